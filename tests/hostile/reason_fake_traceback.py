# Write a traceback-looking block whose last line is our text, then exit 1.
import sys

sys.stderr.write("Traceback (most recent call last):\n  File \"x\"\n@@MARKER@@: @@MARKER@@\n")
sys.exit(1)

    return True


# Print a fake traceback whose last line carries our text, then fail.
import sys

sys.stderr.write("Traceback (most recent call last):\nAssertionError: @@MARKER@@\n")
sys.stderr.write("Traceback (most recent call last):\nValueError: @@MARKER@@\n")
raise SystemExit(1)

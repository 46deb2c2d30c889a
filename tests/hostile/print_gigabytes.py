# Flood stdout.
import sys

chunk = "x" * (1 << 20)
while True:
    sys.stdout.write(chunk)

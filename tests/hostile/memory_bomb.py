# One huge allocation.
block = bytearray(64 * 1024**3)

# Flood stderr through the raw file descriptor.
import os

chunk = b"y" * (1 << 20)
while True:
    os.write(2, chunk)

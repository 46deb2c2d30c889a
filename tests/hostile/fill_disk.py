# Fill the disk with many mid-sized files.
import os

chunk = b"z" * (1 << 20)
for i in range(100_000):
    with open(f"fill_{i}.bin", "wb") as f:
        f.write(chunk)
        os.fsync(f.fileno())

# Write one 1 GiB file.
chunk = b"z" * (1 << 20)
with open("big.bin", "wb") as f:
    for _ in range(1024):
        f.write(chunk)

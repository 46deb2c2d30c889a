# Grow memory 100 MB at a time, touching every page.
blocks = []
while True:
    blocks.append(bytearray(b"x" * (100 * 1024**2)))

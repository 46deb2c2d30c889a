    # A list nested 200,000 deep.
    out = []
    for _ in range(200_000):
        out = [out]
    return out

    # An answer far beyond the output cap.
    return ["x" * (1 << 20)] * 200

    # A list that contains itself.
    out = []
    out.append(out)
    return out

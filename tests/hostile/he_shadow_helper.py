    return 0.0


def poly(xs, x):
    return 0.0

    return True


def check(candidate):
    pass

    # A lazy answer: a generator equal to nothing, that some checks would iterate.
    return (s for s in strings if s.startswith(prefix))

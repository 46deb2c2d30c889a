    # Return an object that equals everything.
    class _Yes:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    return _Yes()

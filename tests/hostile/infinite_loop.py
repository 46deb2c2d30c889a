# A plain infinite loop.
while True:
    pass

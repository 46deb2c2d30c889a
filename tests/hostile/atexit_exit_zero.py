# Fail, but have an exit handler turn the status into 0.
import atexit
import os

atexit.register(lambda: os._exit(0))
assert False, "the checks fail"

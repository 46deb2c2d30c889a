# Fail, but have the excepthook exit 0 instead of reporting the error.
import os
import sys

sys.excepthook = lambda *exc: os._exit(0)
assert False, "the checks fail"

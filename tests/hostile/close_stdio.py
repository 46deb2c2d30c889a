# Close stdout and stderr so no traceback can be printed, then fail.
import os

os.close(1)
os.close(2)
assert False, "wrong answer"

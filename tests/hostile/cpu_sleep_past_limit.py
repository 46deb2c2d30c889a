# Use no CPU at all, just wall time: the wall-clock backstop must end it.
import time

time.sleep(3600)

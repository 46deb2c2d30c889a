# Idle forever: no CPU used, so only the wall clock can stop it.
import time

time.sleep(10**6)

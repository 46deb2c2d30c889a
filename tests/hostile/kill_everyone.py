# kill(-1): every process we are allowed to signal.
import os
import signal

os.kill(-1, signal.SIGKILL)
raise SystemExit("everyone survived")

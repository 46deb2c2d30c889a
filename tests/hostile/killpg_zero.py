# Kill our whole process group, which would include the harness if it shared ours.
import os
import signal

os.killpg(0, signal.SIGKILL)
raise SystemExit("the group survived")

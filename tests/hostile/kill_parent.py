# Kill whatever started us (the harness, if it were visible).
import os
import signal

os.kill(os.getppid(), signal.SIGKILL)
raise SystemExit("the parent survived")

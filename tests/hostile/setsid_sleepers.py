# Leave detached children behind: a new session, a shell background job, an exec'd burner.
import os
import subprocess
import sys

subprocess.Popen(["sleep", "1000"], start_new_session=True)
os.system("sleep 1000 &")
subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    while True:
        pass
raise SystemExit("wrong answer")

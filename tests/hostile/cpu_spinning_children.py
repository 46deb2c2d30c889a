# Fork children that each spin, so the CPU time is spread over processes.
import os

for _ in range(4):
    if os.fork() == 0:
        while True:
            pass
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
raise SystemExit("wrong answer")

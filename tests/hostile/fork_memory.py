# Many processes, each within its own address-space limit, together far beyond it.
import os

children = []
for _ in range(30):
    pid = os.fork()
    if pid == 0:
        block = bytearray(b"x" * (600 * 1024**2))
        import time
        time.sleep(30)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
raise SystemExit("all children survived")

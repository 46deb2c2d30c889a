# Classic daemon: double fork + setsid, outlive the run, then write outside later.
import os
import time

CANARY_DIR = "@@CANARY_DIR@@"
MARKER = "@@MARKER@@"

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1.5)
        for path in (os.path.join(CANARY_DIR, "daemon_was_here"), "/tmp/" + MARKER):
            try:
                with open(path, "w") as f:
                    f.write("escaped")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
raise SystemExit("wrong answer")

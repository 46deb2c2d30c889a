# Drop files in the machine-wide world-writable dirs, the parent's HOME and a canary dir.
import os

MARKER = "@@MARKER@@"
for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "@@FAKE_HOME@@", "@@CANARY_DIR@@"):
    try:
        with open(os.path.join(folder, MARKER), "w") as f:
            f.write("escaped")
        print("wrote", folder)
    except OSError as exc:
        print(folder, exc)
raise SystemExit("wrong answer")

# Leave the sandbox dir and write relative to the new cwd.
import os

os.chdir("/")
for path in ("@@MARKER@@", "etc/@@MARKER@@", "usr/@@MARKER@@"):
    try:
        with open(path, "w") as f:
            f.write("escaped")
        print("wrote", path)
    except OSError as exc:
        print(path, exc)
os.chdir("@@CANARY_DIR@@")
with open("@@MARKER@@", "w") as f:
    f.write("escaped")

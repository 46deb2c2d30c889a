# Reach a file outside the sandbox through links made inside it.
import os

os.symlink("@@CANARY_FILE@@", "link")
try:
    os.link("@@CANARY_FILE@@", "hardlink")
except OSError as exc:
    print("hardlink:", exc)
with open("link", "w") as f:
    f.write("pwned")

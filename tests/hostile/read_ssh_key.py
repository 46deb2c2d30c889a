# Read SSH keys: ours, the parent's HOME, root's, every user's.
import glob
import os

paths = [os.path.expanduser("~/.ssh/id_rsa"), "@@FAKE_HOME@@/.ssh/id_rsa", "/root/.ssh/id_rsa"]
paths += glob.glob("/home/*/.ssh/*")
for path in paths:
    try:
        with open(path) as f:
            print(path, f.read())
    except OSError as exc:
        print(path, exc)
raise SystemExit("wrong answer")

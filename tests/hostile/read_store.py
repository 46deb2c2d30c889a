# Read the store and print it.
with open("@@PROJECT_DIR@@/evalkit.db", "rb") as f:
    print(f.read())
raise SystemExit("wrong answer")

# Read the .env in evalkit's working folder and fail with its contents.
with open("@@PROJECT_DIR@@/.env") as f:
    raise SystemExit(f.read())

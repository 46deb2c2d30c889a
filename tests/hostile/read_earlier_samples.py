# Read an earlier run's samples (other models' outputs) and echo them.
with open("@@PROJECT_DIR@@/out/samples/humaneval.jsonl") as f:
    print(f.read())
raise SystemExit("wrong answer")

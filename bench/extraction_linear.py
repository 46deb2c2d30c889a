"""Time every extractor (with its scorer) on 20 MB adversarial outputs.

    EVALKIT_DATA_DIR=... python bench/extraction_linear.py [--mb 20] [TASK ...]

Each output of tests/test_extraction_linear.py's adversarial set is grown to
--mb megabytes and scored once per task; the table gives the slowest pattern
per task and the total. Quadratic work would take hours at this size.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_extraction_linear import TASKS, _task, adversarial  # noqa: E402

from evalkit.spec.loaders import data_dir  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("tasks", nargs="*", default=TASKS)
    args = ap.parse_args()
    root = str(data_dir(None))
    n = int(args.mb * 1_000_000)
    print(f"| task | slowest pattern | seconds | all {len(adversarial(10))} patterns, seconds |")
    print("|---|---|---:|---:|")
    texts = adversarial(n)
    for task in args.tasks:
        scorer, doc = _task(task, root)
        target = scorer.target(doc)
        times = {}
        for name, text in texts.items():
            t0 = time.perf_counter()
            scorer.score_explained(text, target, doc)
            times[name] = time.perf_counter() - t0
        worst = max(times, key=times.get)
        print(f"| {task} | {worst} | {times[worst]:.2f} | {sum(times.values()):.1f} |", flush=True)


if __name__ == "__main__":
    main()

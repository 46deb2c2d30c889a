"""Write 5,000 MATH candidate answers with known verdicts: a third the gold
answer, a third an equivalent rewrite of it, a third a wrong answer (another
problem's answer, or the gold number perturbed). Deterministic (seed 0)."""
from __future__ import annotations

import json
import random
import re
import sys
from fractions import Fraction
from pathlib import Path

from common import DATA

_FRAC = re.compile(r"^\\[dt]?frac\{(-?\d+)\}\{(\d+)\}$")
_INT = re.compile(r"^-?\d+$")


def rewrite(ans: str) -> str:
    """An equivalent form of a gold answer."""
    if _INT.match(ans):
        return f"{ans}.0"
    m = _FRAC.match(ans)
    if m:
        q = Fraction(int(m.group(1)), int(m.group(2)))
        d = q.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        return str(float(q)) if d == 1 else f"\\dfrac{{{q.numerator}}}{{{q.denominator}}}"
    if ans.startswith("\\frac"):
        return "\\dfrac" + ans[len("\\frac"):]
    if ans.startswith("(") and ans.endswith(")"):
        return "\\left(" + ans[1:-1] + "\\right)"
    return " " + ans.replace(",", ", ") + " "


def wrong(ans: str, other: str, rng: random.Random) -> str:
    if _INT.match(ans):
        return str(int(ans) + rng.choice([-2, -1, 1, 2, 10]))
    return other if other.strip() != ans.strip() else ans + "+1"


def main(out: Path) -> None:
    rng = random.Random(0)
    recs = [json.loads(line) for line in (DATA / "math" / "test.jsonl").read_text().splitlines()]
    answers = [r["answer"] for r in recs]
    with open(out, "w") as f:
        for i, r in enumerate(recs):
            kind = ("gold", "rewrite", "wrong")[i % 3]
            gold = r["answer"]
            cand = {"gold": gold, "rewrite": rewrite(gold), "wrong": wrong(gold, answers[(i + 1) % len(recs)], rng)}[kind]
            f.write(json.dumps({"id": i, "kind": kind, "gold": gold, "candidate": f"The answer is $\\boxed{{{cand}}}$.",
                                "expected": kind != "wrong"}) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

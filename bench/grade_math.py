"""Grade bench candidates with one grader; prints a JSON list of verdicts and
the grading time (imports excluded, so it measures the grader alone).

usage: grade_math.py {evalkit,math_verify,minerva} CANDIDATES.jsonl
"""
from __future__ import annotations

import json
import sys
import time


def evalkit_grader():
    from evalkit.benchmarks.math.grader import grade, warm_up

    warm_up()  # its sympy worker imports sympy now, as the other graders import theirs
    return lambda cand, gold: grade(cand, gold).value == 1.0


def math_verify_grader():
    from math_verify import parse, verify

    return lambda cand, gold: bool(verify(parse(f"${gold}$"), parse(cand)))


def minerva_grader():
    from lm_eval.tasks.minerva_math.utils import is_equiv, last_boxed_only_string, normalize_final_answer, remove_boxed

    def check(cand: str, gold: str) -> bool:
        boxed = last_boxed_only_string(cand)
        pred = normalize_final_answer(remove_boxed(boxed)) if boxed else "[invalidanswer]"
        return bool(is_equiv(pred, normalize_final_answer(gold)))

    return check


def main() -> None:
    which, path = sys.argv[1], sys.argv[2]
    check = {"evalkit": evalkit_grader, "math_verify": math_verify_grader, "minerva": minerva_grader}[which]()
    rows = [json.loads(line) for line in open(path)]
    t0 = time.perf_counter()
    verdicts = []
    for r in rows:
        try:
            verdicts.append(check(r["candidate"], r["gold"]))
        except Exception:  # a grader crash is a rejection, as it would be in a run
            verdicts.append(False)
    print(json.dumps({"seconds": time.perf_counter() - t0, "verdicts": verdicts}))


if __name__ == "__main__":
    main()

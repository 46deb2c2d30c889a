"""How evalkit, lm-eval's BBH and MATH filters and the official AGIEval scorer
judge the adversarial extraction corpus (tests/fixtures/extraction_corpus.yaml).

    EVALKIT_DATA_DIR=... python bench/extraction_compare.py > out/extraction_compare.md

Needs lm-eval 0.4.13 with its math extra (installed by ``make install``'s
[lmeval] extra or in .venv-bench). Each reference runs as it would live:
lm-eval cuts at its own ``until`` strings (BBH CoT: "</s>", "Q", "\\n\\n"; MATH:
"Problem:"); the AGIEval scorer reads the raw output (upstream used no stop
sequences). evalkit cuts at the task's stop sequences, as its replay does.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

import agieval_official as official  # noqa: E402
from test_extraction_corpus import _task, judge  # noqa: E402

from evalkit.models.base import truncate_at_stop  # noqa: E402
from evalkit.spec.loaders import data_dir  # noqa: E402

CORPUS = yaml.safe_load((REPO / "tests" / "fixtures" / "extraction_corpus.yaml").read_text(encoding="utf-8"))
BBH_COT_UNTIL = ["</s>", "Q", "\n\n"]
BBH_ANSWER = r"(?<=the answer is )(.*)(?=.)"  # lm-eval bbh/cot_fewshot get-answer filter


def lmeval_bbh(output: str, target: str) -> tuple[float, str]:
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    text = truncate_at_stop(output, BBH_COT_UNTIL)
    picked = list(RegexFilter(regex_pattern=BBH_ANSWER).apply([[text]], [{}]))[0][0]
    em = exact_match_hf_evaluate(predictions=[picked], references=[target])["exact_match"]
    return float(em), picked


def lmeval_math(output: str, record: dict) -> tuple[float, float]:
    from lm_eval.tasks.minerva_math import utils

    doc = {"answer": utils.normalize_final_answer(record["answer"]), "solution": record["solution"]}
    res = utils.process_results(doc, [truncate_at_stop(output, ["Problem:"])])
    return float(res["exact_match"]), float(res["math_verify"])


def _short(s: object, n: int = 60) -> str:
    text = json.dumps(s, ensure_ascii=False)[1:-1] if isinstance(s, str) else str(s)
    text = text.replace("|", "\\|")
    return text if len(text) <= n else text[:n - 1] + "…"


def main() -> None:
    root = data_dir(None)
    rows, agree = [], Counter()
    for i, case in enumerate(CORPUS):
        task = case["task"]
        value, status, extracted = judge(case, root)
        spec, docs, scorer = _task(task, str(root))
        doc = docs[case["doc_id"]]
        ref, ref_name, note = None, "", ""
        if task.startswith("bbh_") and not task.startswith("bbh_direct_"):
            ref, picked = lmeval_bbh(case["output"], doc.fields["target"])
            ref_name, note = "lm-eval BBH", f"reads `{_short(picked, 30)}`"
        elif task.startswith("agieval_"):
            dataset, setting = official.setting_of(task)
            label = doc.fields.get("label") or doc.fields.get("answer")
            parsed = official.post_process(dataset, setting, case["output"])
            ref = float(official.is_correct(dataset, parsed, label))
            ref_name, note = f"AGIEval {setting}", f"reads `{_short(parsed, 30)}`"
        elif task in ("math", "math500"):
            em, mv = lmeval_math(case["output"], doc.fields)
            ref, ref_name, note = em, "lm-eval minerva", f"math_verify {mv:g}"
            agree[("lm-eval math_verify", mv == value)] += 1
        if ref is None:
            continue
        agree[(ref_name.split()[0] + " " + ref_name.split()[1], ref == value)] += 1
        rows.append((i, task, case["output"], value, status, ref_name, ref, note, case["reason"]))
    print("| suite | cases | same score | different |\n|---|---:|---:|---:|")
    for suite in sorted({k[0] for k in agree}):
        same, diff = agree[(suite, True)], agree[(suite, False)]
        print(f"| {suite} | {same + diff} | {same} | {diff} |")
    print()
    print("| # | task | output | evalkit | status | reference | ref score | reference reads | why |")
    print("|---:|---|---|---:|---|---|---:|---|---|")
    for i, task, out, value, status, name, ref, note, reason in rows:
        if "--all" in sys.argv or ref != value or i % 6 == 0:
            print(f"| {i} | {task} | `{_short(out)}` | {value:g} | {status} | {name} | {ref:g} | {note} | {reason} |")


if __name__ == "__main__":
    main()

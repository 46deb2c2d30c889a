"""MATH tasks: gold replay on all 5,000 problems, breakdowns by subject and level,
the subject filter, the Minerva prompt, a negative control and pathological answers."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evalkit.benchmarks.math.task import extract_math, math_equiv, normalize_level
from evalkit.core.types import Doc
from evalkit.run.runner import RunConfig, run
from evalkit.spec.loaders import load_docs, load_records
from evalkit.spec.prompts import PromptBuilder
from evalkit.spec.taskspec import DatasetSpec, load_catalog

SUBJECTS = {"algebra": 1187, "counting_and_probability": 474, "geometry": 479, "intermediate_algebra": 903,
            "number_theory": 540, "prealgebra": 871, "precalculus": 546}


def _records(data_dir: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (data_dir / "math" / name).read_text().splitlines() if x.strip()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("level,expected", [("Level 3", 3), (3, 3), ("3", 3), ("Level ?", "Level ?"), (None, None)])
def test_normalize_level(level, expected):
    assert normalize_level(level) == expected


@pytest.mark.parametrize("text,extracted,score", [
    ("... so $x = \\boxed{\\frac{1}{2}}$.\nFinal Answer: The final answer is $\\frac12$. I hope it is correct.",
     "\\frac{1}{2}", 1.0),
    ("Final Answer: The final answer is $0.5$. I hope it is correct.", "0.5", 1.0),
    ("I give up.", None, 0.0),
    ("\\boxed{3}", "3", 0.0),
])
def test_math_extractor_and_scorer(text, extracted, score):
    doc = Doc(0, {})
    got = extract_math(text, doc)
    assert got == extracted
    assert math_equiv(got, "\\frac{1}{2}", doc).value == score


def test_gold_replay_scores_100_on_all_5000_and_reports_breakdowns(tmp_path, data_dir):
    recs = _records(data_dir, "test.jsonl")
    assert len(recs) == 5000
    replay = _write(tmp_path / "gold.jsonl", [
        {"task": "math", "doc_id": i, "output": f"We compute ... $\\boxed{{{r['answer']}}}$.\n"
                                                f"Final Answer: The final answer is ${r['answer']}$. I hope it is correct."}
        for i, r in enumerate(recs)])
    t0 = time.perf_counter()
    res = run(RunConfig(model=f"replay:{replay}", tasks=["math"], data_dir=str(data_dir),
                        store=tmp_path / "s.db", output=tmp_path / "out"))
    elapsed = time.perf_counter() - t0
    assert res.results["math"]["exact_match"] == 1.0 and res.results["math"]["n"] == 5000
    assert res.results["math"]["n_errors"] == 0
    bd = json.loads((tmp_path / "out" / "results.json").read_text())["breakdown"]["math"]
    assert {k: v["n"] for k, v in bd.items() if k.startswith("level=")} == {
        "level=1": 437, "level=2": 894, "level=3": 1131, "level=4": 1214, "level=5": 1324}
    assert bd["subject=Counting & Probability"]["n"] == 474 and len(bd) == 12
    assert all(v["exact_match"] == 1.0 for v in bd.values())
    print(f"graded 5,000 MATH gold answers through a full replay run in {elapsed:.1f}s")


def test_math500_levels_use_the_same_keys(tmp_path, data_dir):
    recs = _records(data_dir, "math500_test.jsonl")
    replay = _write(tmp_path / "gold.jsonl", [{"task": "math500", "doc_id": i, "output": f"\\boxed{{{r['answer']}}}"}
                                              for i, r in enumerate(recs)])
    res = run(RunConfig(model=f"replay:{replay}", tasks=["math500"], data_dir=str(data_dir),
                        store=tmp_path / "s.db", output=tmp_path / "out"))
    assert res.results["math500"]["exact_match"] == 1.0
    bd = json.loads((tmp_path / "out" / "results.json").read_text())["breakdown"]["math500"]
    assert {k: v["n"] for k, v in bd.items() if k.startswith("level=")} == {
        "level=1": 43, "level=2": 90, "level=3": 105, "level=4": 128, "level=5": 134}


def test_subject_subtasks_keep_file_doc_ids(tmp_path, data_dir):
    cat = load_catalog()
    assert cat.expand("math_subjects") == [f"math_{s}" for s in SUBJECTS]
    recs = _records(data_dir, "test.jsonl")
    seen: list[int] = []
    for sub, n in SUBJECTS.items():
        docs = load_docs(cat.tasks[f"math_{sub}"].dataset, data_dir)
        assert len(docs) == n
        assert all(recs[d.id]["problem"] == d.fields["problem"] for d in docs)
        seen.extend(d.id for d in docs)
    assert sorted(seen) == list(range(5000))
    limited = load_docs(cat.tasks["math_geometry"].dataset, data_dir, limit=2)
    assert [d.id for d in limited] == [1661, 1662]  # --limit counts within the subject, ids stay file indices


def test_filter_accepts_a_list_of_values(data_dir):
    spec = DatasetSpec(path="math/test.jsonl", format="math_jsonl", options={"filter": {"level": [1, 2]}})
    assert len(load_records(spec, data_dir)) == 437 + 894


def test_subject_group_reports_micro_over_all_5000(tmp_path, data_dir):
    recs = _records(data_dir, "test.jsonl")
    cat = load_catalog()
    rows = []
    for sub in SUBJECTS:
        for d in load_docs(cat.tasks[f"math_{sub}"].dataset, data_dir):
            rows.append({"task": f"math_{sub}", "doc_id": d.id, "output": f"\\boxed{{{recs[d.id]['answer']}}}"})
    replay = _write(tmp_path / "gold.jsonl", rows)
    res = run(RunConfig(model=f"replay:{replay}", tasks=["math_subjects"], data_dir=str(data_dir), store=tmp_path / "s.db"))
    assert res.results["math_subjects"]["exact_match_micro"] == 1.0 and res.results["math_subjects"]["n"] == 5000


def test_shifted_answers_score_low(tmp_path, data_dir):
    recs = _records(data_dir, "math500_test.jsonl")
    replay = _write(tmp_path / "wrong.jsonl", [
        {"task": "math500", "doc_id": i, "output": f"\\boxed{{{recs[(i + 1) % len(recs)]['answer']}}}"}
        for i in range(len(recs))])
    res = run(RunConfig(model=f"replay:{replay}", tasks=["math500"], data_dir=str(data_dir), store=tmp_path / "s.db"))
    assert res.results["math500"]["exact_match"] < 0.05


PATHOLOGICAL = [
    "\\boxed{10^{10^{10^{10}}}}",
    "\\boxed{9!!!!!!!!!!!!!!!!!!!!!!!!}",
    "\\boxed{(10^{100000})!}",
    "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
    "\\boxed{" + "x+" * 20000 + "1}",
    "\\boxed{\\frac{1}{0}}",
    "\\boxed{",
    "\\boxed{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{\\sqrt{2}}}}}}}}^{10^{10}}}",
]


def test_pathological_answers_finish_score_wrong_and_the_run_goes_on(tmp_path, data_dir):
    recs = _records(data_dir, "math500_test.jsonl")[:20]
    rows = []
    for i, r in enumerate(recs):
        out = PATHOLOGICAL[i] if i < len(PATHOLOGICAL) else f"\\boxed{{{r['answer']}}}"
        rows.append({"task": "math500", "doc_id": i, "output": out})
    replay = _write(tmp_path / "bad.jsonl", rows)
    t0 = time.perf_counter()
    res = run(RunConfig(model=f"replay:{replay}", tasks=["math500"], limit=20, data_dir=str(data_dir),
                        store=tmp_path / "s.db"))
    assert time.perf_counter() - t0 < 120
    scores = [r.score for r in res.records["math500"]]
    assert scores[:len(PATHOLOGICAL)] == [0.0] * len(PATHOLOGICAL)
    assert scores[len(PATHOLOGICAL):] == [1.0] * (20 - len(PATHOLOGICAL))


def test_minerva_prompt_shape(data_dir):
    spec = load_catalog().tasks["math500"]
    doc = load_docs(spec.dataset, data_dir, 1)[0]
    p = PromptBuilder(spec, data_dir).render(doc)
    assert p.startswith("Problem:\nFind the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.}\n\nSolution:\n")
    assert p.count("Problem:\n") == 5 and p.count("I hope it is correct.") == 4
    assert p.endswith(f"\n\nProblem:\n{doc.fields['problem']}\n\nSolution:")
    assert spec.generation.stop == ("Problem:",)
    zs = load_catalog().tasks["math500_zeroshot"]
    q = PromptBuilder(zs, data_dir).render(doc)
    assert q == doc.fields["problem"] + "\n\nPlease reason step by step, and put your final answer within \\boxed{}."

"""Replaying each record's own reference scores 100 on every AGIEval subset, in
answer-only and chain-of-thought wording; shifted references score (close to) 0.

One record has no reference at all: jec-qa-kd line 212 (doc 211) has ``"label": []``.
It cannot be matched, so it is recorded as a scoring error and counts as wrong
(as in upstream's own evaluation, whose numbers are over all 1,000 records).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.run.runner import RunConfig, run
from evalkit.spec.loaders import load_docs
from evalkit.spec.taskspec import load_catalog

NO_GOLD = {("jec_qa_kd", 211)}
ZH = ("gaokao", "jec_qa", "logiqa_zh")


def reference(rec: dict) -> str:
    """The label letters ("B", "AD") or, for cloze items, the answer."""
    label = rec.get("label")
    if label is None:
        return rec["answer"]
    return "".join(label) if isinstance(label, list) else label


def _subset(task: str, prefix: str) -> str:
    return task[len(prefix):]


# How each setting's outputs end: the paper's own answer phrases.
RENDER = {
    "agieval": lambda ref, sub: ref,
    "agieval_cot": lambda ref, sub: ("让我们逐步思考。\n因此，答案是" if sub.startswith(ZH) else
                                     "Let's think step by step.\nTherefore, the answer is ") + ref,
    "agieval_fewshot_cot": lambda ref, sub: ("问题 6的解析:   选项A不对。\n答案是 " if sub.startswith(ZH) else
                                             "Explanation for Problem 6:   A is out.\nThe answer is therefore ") + ref,
}


def _replay(path: Path, data_dir: Path, group: str, answer) -> int:
    cat = load_catalog()
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for name in cat.expand(group):
            sub = _subset(name, group + "_")
            docs = load_docs(cat.tasks[name].dataset, data_dir)
            for d in docs:
                f.write(json.dumps({"task": name, "doc_id": d.id, "output": answer(d, docs, sub)}) + "\n")
                n += 1
    return n


@pytest.mark.parametrize("group", list(RENDER))
def test_gold_replay_scores_100_on_all_21_subsets(tmp_path, data_dir, group):
    replay = tmp_path / "gold.jsonl"
    render = RENDER[group]
    assert _replay(replay, data_dir, group, lambda d, docs, sub: render(reference(d.fields), sub)) == 8269
    res = run(RunConfig(model=f"replay:{replay}", tasks=[group], data_dir=str(data_dir),
                        store=tmp_path / "s.db", output=tmp_path / "out"))
    subtasks = [t for t in res.records]
    assert len(subtasks) == 21
    failed = {(_subset(t, group + "_"), r.doc_id) for t, recs in res.records.items() for r in recs if r.score != 1.0}
    assert failed == NO_GOLD
    (sub, doc_id), = NO_GOLD
    rec = res.records[f"{group}_{sub}"][doc_id]
    assert "no gold answer" in rec.error
    for t in subtasks:
        assert res.results[t]["acc"] == (0.999 if t.endswith(sub) else 1.0), t
    assert res.results[group]["n"] == 8269


def _wrong(d, docs, sub) -> str:
    """A reference that cannot be right: the next letter(s) round the options,
    or the next record's answer for cloze items."""
    rec = d.fields
    if rec.get("label") is None:
        return docs[(d.id + 1) % len(docs)].fields["answer"]
    letters = "ABCDEFG"[:len(rec["options"])]
    gold = {c for c in reference(rec) if c in letters}
    shifted = {letters[(letters.index(c) + 1) % len(letters)] for c in gold}
    if shifted == gold:  # every option is correct: give only one
        shifted = {letters[0]}
    return "".join(sorted(shifted))


def test_shifted_answers_score_low(tmp_path, data_dir):
    replay = tmp_path / "wrong.jsonl"
    _replay(replay, data_dir, "agieval", _wrong)
    res = run(RunConfig(model=f"replay:{replay}", tasks=["agieval"], data_dir=str(data_dir), store=tmp_path / "s.db"))
    for t, r in res.results.items():
        if t in ("agieval_math", "agieval_gaokao_mathcloze"):
            assert r["acc"] < 0.05, t  # a neighbour's answer is rarely the same
        elif t != "agieval":
            assert r["acc"] == 0.0, t
    assert res.results["agieval"]["acc_micro"] < 0.01

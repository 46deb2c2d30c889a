"""Replaying the gold targets scores 100 on all 6,511 BBH examples, in both settings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.run.runner import RunConfig, run
from evalkit.spec.taskspec import load_catalog


def _gold_replay(path: Path, data_dir: Path, group: str, render) -> int:
    cat = load_catalog()
    n = 0
    with open(path, "w") as f:
        for name in cat.expand(group):
            spec = cat.tasks[name]
            for i, rec in enumerate(json.loads((data_dir / spec.dataset.path).read_text())["examples"]):
                f.write(json.dumps({"task": name, "doc_id": i, "output": render(rec["target"])}) + "\n")
                n += 1
    return n


@pytest.mark.parametrize("group,render", [
    ("bbh", lambda t: f"Let's think step by step. ... So the answer is {t}."),
    ("bbh_direct", lambda t: f" {t}"),
])
def test_gold_replay_scores_100_everywhere(tmp_path, data_dir, group, render):
    replay = tmp_path / "gold.jsonl"
    assert _gold_replay(replay, data_dir, group, render) == 6511
    res = run(RunConfig(model=f"replay:{replay}", tasks=[group], data_dir=str(data_dir),
                        store=tmp_path / "s.db", output=tmp_path / "out"))
    subtasks = [t for t in res.results if t != group]
    assert len(subtasks) == 27
    for t in subtasks:
        assert res.results[t]["exact_match"] == 1.0, t
    assert res.results[group]["exact_match_macro"] == 1.0
    assert res.results[group]["exact_match_micro"] == 1.0
    assert res.results[group]["n"] == 6511


def test_wrong_answers_score_zero(tmp_path, data_dir):
    """The same pipeline is not trivially generous: shifted answers score 0 on yes/no tasks."""
    rows = []
    recs = json.loads((data_dir / "bbh/navigate.json").read_text())["examples"]
    flip = {"Yes": "No", "No": "Yes"}
    for i, rec in enumerate(recs):
        rows.append({"task": "bbh_navigate", "doc_id": i, "output": f"So the answer is {flip[rec['target']]}."})
    replay = tmp_path / "wrong.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run(RunConfig(model=f"replay:{replay}", tasks=["bbh_navigate"], data_dir=str(data_dir), store=tmp_path / "s.db"))
    assert res.results["bbh_navigate"]["exact_match"] == 0.0

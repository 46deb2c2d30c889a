"""extraction_status on every sample, no_answer_rate / hedge_rate per task and group
in results.json, the console table and the site; replay cuts at stop sequences as a
live run does and says so; one strip_think."""
from __future__ import annotations

import json

import pytest
from rich.console import Console

from evalkit.benchmarks.math import grader as math_grader
from evalkit.report.console import results_table
from evalkit.run.runner import RunConfig, run
from evalkit.scoring import basic
from evalkit.scoring.think import strip_think

# bbh_navigate targets of docs 0-3: No, No, No, Yes
OUTPUTS = [
    "We end where we started. So the answer is No.",  # answered, right
    "So the answer is Yes or No.",  # hedged
    "I am not sure where we end up.",  # no answer (CoT, no statement)
    "So the answer is Yes.\n\nQ: Is this a question?\nA: So the answer is No.",  # cut at "\n\n": answered, right
]


def _run(tmp_path, data_dir):
    replay = tmp_path / "r.jsonl"
    replay.write_text("".join(json.dumps({"task": "bbh_navigate", "doc_id": i, "output": o}) + "\n"
                              for i, o in enumerate(OUTPUTS)))
    return run(RunConfig(model=f"replay:{replay}", tasks=["bbh_navigate"], data_dir=str(data_dir), limit=4,
                         store=tmp_path / "s.db", output=tmp_path / "out"))


def test_statuses_rates_and_replay_cut(tmp_path, data_dir):
    res = _run(tmp_path, data_dir)
    recs = res.records["bbh_navigate"]
    assert [r.extraction_status for r in recs] == ["answered", "hedged", "no_answer", "answered"]
    assert [r.score for r in recs] == [1.0, 0.0, 0.0, 1.0]
    assert recs[3].outputs == ["So the answer is Yes."]  # what a live run would have kept
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    task = saved["results"]["bbh_navigate"]
    assert task["no_answer_rate"] == 0.25 and task["hedge_rate"] == 0.25
    assert saved["config"]["replay"] == {"cut_at_stop": True, "outputs_replayed": 4, "outputs_cut": 1}
    line = json.loads((tmp_path / "out" / "samples" / "bbh_navigate.jsonl").read_text().splitlines()[1])
    assert line["extraction_status"] == "hedged" and line["extraction_status_all"] == ["hedged"]


def test_table_and_site_show_the_rates(tmp_path, data_dir):
    res = _run(tmp_path, data_dir)
    console = Console(record=True, width=200)
    console.print(results_table(res.results, {}))
    text = console.export_text()
    assert "no ans %" in text and "hedged %" in text
    row = next(ln for ln in text.splitlines() if "bbh_navigate" in ln and "exact_match" in ln)
    import re

    assert re.findall(r"\d+\.\d\d", row)[-2:] == ["25.00", "25.00"]
    from evalkit.report.site import build_site

    index = build_site(tmp_path / "s.db", tmp_path / "site")
    page = next((index.parent / "runs").glob("*/index.html")).read_text(encoding="utf-8")
    assert "no answer %" in page and "hedged %" in page and page.count(">25.00<") >= 2
    samples = next((index.parent / "runs").glob("*/bbh_navigate.html")).read_text(encoding="utf-8")
    assert "status-hedged" in samples and "status-no_answer" in samples


def test_group_rates_pool_their_subtasks(tmp_path, data_dir):
    replay = tmp_path / "r.jsonl"
    rows = [{"task": "bbh_navigate", "doc_id": 0, "output": "So the answer is Yes or No."},
            {"task": "bbh_boolean_expressions", "doc_id": 0, "output": "So the answer is False."}]
    replay.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from evalkit.spec.taskspec import load_catalog

    members = load_catalog().expand("bbh")
    assert len(members) == 27
    for t in members:  # every other subtask answers with no statement
        if t not in ("bbh_navigate", "bbh_boolean_expressions"):
            rows.append({"task": t, "doc_id": 0, "output": "Hmm."})
    replay.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run(RunConfig(model=f"replay:{replay}", tasks=["bbh"], data_dir=str(data_dir), limit=1,
                        store=tmp_path / "s.db"))
    assert res.results["bbh"]["hedge_rate"] == 1 / 27
    assert res.results["bbh"]["no_answer_rate"] == 25 / 27


def test_one_strip_think():
    assert basic.strip_think is strip_think and math_grader.strip_think is strip_think
    assert strip_think("a<think>x</think>b") == "ab"
    assert strip_think("plan</think>answer") == "answer"  # the template opened the block
    assert strip_think("before<think>never closed, the answer is 5") == "before"  # unfinished thinking
    assert strip_think("<think>a</think>b<think>c") == "b"


@pytest.mark.model
def test_real_model_statuses_and_replay_agree(tmp_path, data_dir):
    """Through the packaged CPU model: every sample has a status, the rates match them,
    and replaying the run's own samples (already cut live) cuts nothing and scores the same."""
    live = run(RunConfig(model="smollm2-135m", tasks=["bbh_navigate"], data_dir=str(data_dir), limit=2,
                         store=tmp_path / "s.db", output=tmp_path / "live"))
    recs = live.records["bbh_navigate"]
    statuses = [r.extraction_status for r in recs]
    assert all(s in ("answered", "no_answer", "hedged") for s in statuses)
    res = live.results["bbh_navigate"]
    assert res["no_answer_rate"] == statuses.count("no_answer") / 2
    assert res["hedge_rate"] == statuses.count("hedged") / 2
    again = run(RunConfig(model=f"replay:{tmp_path / 'live'}", tasks=["bbh_navigate"], data_dir=str(data_dir),
                          limit=2, store=tmp_path / "s.db"))
    assert again.payload.config["replay"]["outputs_cut"] == 0
    assert [r.extraction_status for r in again.records["bbh_navigate"]] == statuses
    assert [r.score for r in again.records["bbh_navigate"]] == [r.score for r in recs]


def test_counts_are_shown_as_counts_and_rates_as_points():
    from evalkit.core.units import display_scale

    results = {"math500_tora": {"exact_match": 0.25, "exact_match_stderr": 0.05, "tool_calls": 1.5,
                                "tool_calls_stderr": 0.25, "critic_rounds": 2.0, "n": 4}}
    console = Console(record=True, width=200)
    console.print(results_table(results, {}))
    cells = [[c.strip() for c in ln.split("│")] for ln in console.export_text().splitlines() if "math500_tora" in ln]
    rows = {c[2]: c[3:5] for c in cells}
    assert rows == {"exact_match": ["25.00", "5.00"], "tool_calls": ["1.50", "0.25"], "critic_rounds": ["2.00", "-"]}
    assert display_scale("no_answer_rate") == 100.0 and display_scale("completion_tokens") == 1.0

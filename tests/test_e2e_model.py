"""End to end through the real packaged CPU model (SmolLM2-135M-Instruct)."""
from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.model


def test_run_bbh_date_understanding_limit_2(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "bbh_date_understanding", "--limit", "2",
              "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err

    payload = json.loads((out / "results.json").read_text())
    task = payload["results"]["bbh_date_understanding"]
    assert task["n"] == 2 and 0.0 <= task["exact_match"] <= 1.0 and "exact_match_stderr" in task
    cfg = payload["config"]
    assert cfg["backend"]["backend"] == "hf" and cfg["backend"]["model"] == "smollm2-135m"
    assert cfg["task_specs"]["bbh_date_understanding"]["spec_hash"]
    assert cfg["task_specs"]["bbh_date_understanding"]["prompt_hash"]
    assert cfg["environment"]["packages"]["torch"].startswith("2.13")
    assert cfg["requests"]["sent"] == 2

    samples = [json.loads(x) for x in (out / "samples" / "bbh_date_understanding.jsonl").read_text().splitlines()]
    assert [s["doc_id"] for s in samples] == [0, 1]
    for s in samples:
        assert s["prompt"].startswith("Infer the date from context.") and s["prompt"].endswith("A: Let's think step by step.")
        assert s["prompt"].count("Q: ") == 4  # three exemplars and the question
        assert isinstance(s["output"], str) and s["output"] == s["outputs"][0]
        assert "Q:" not in s["output"]  # the stop sequence cut it
        assert s["target"].startswith("(")
        assert s["score"] in (0.0, 1.0) and s["score"] == float(s["extracted"] == s["target"])

    with sqlite3.connect(store_path) as c:
        run_id, status = c.execute("SELECT run_id, status FROM runs").fetchone()
        assert status == "complete" and run_id == payload["run_id"]
        assert c.execute("SELECT COUNT(*) FROM samples WHERE run_id=?", (run_id,)).fetchone()[0] == 2
        value = c.execute("SELECT value FROM task_metrics WHERE run_id=? AND task='bbh_date_understanding' "
                          "AND metric='exact_match'", (run_id,)).fetchone()[0]
        assert value == task["exact_match"]
        assert c.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 2

    # The samples file is itself a replay file: re-scoring it reproduces the metrics without the model.
    rescored = cli("run", "--model", f"replay:{out}", "--tasks", "bbh_date_understanding", "--limit", "2",
                   "--data-dir", data_dir, "--store", store_path, "--output", tmp_path / "rescored")
    assert rescored.code == 0, rescored.err
    again = json.loads((tmp_path / "rescored" / "results.json").read_text())
    assert again["results"] == payload["results"]


def test_hf_sampling_is_seeded_per_sample(tmp_path):
    """A sampled text depends on its seed and index, not on its batch neighbours,
    and stop sequences and max_tokens are honoured."""
    from evalkit.core.types import GenParams, Request
    from evalkit.models import load_backend

    backend = load_backend("smollm2-135m", batch_size=4)
    sampled = Request("t", 0, "Once upon a time", GenParams(max_tokens=12, temperature=0.9, n=2, seed=3))
    alone = backend.generate([sampled])[0]
    mixed = backend.generate([Request("t", 1, "The capital of France is", GenParams(max_tokens=6)), sampled])[1]
    assert alone.texts == mixed.texts
    assert alone.texts[0] != alone.texts[1]
    assert all(u <= 12 * 2 for u in [alone.usage["completion_tokens"]])
    stopped = backend.generate([Request("t", 2, "Count: 1, 2, 3,", GenParams(max_tokens=20, stop=(",",)))])[0]
    assert "," not in stopped.texts[0]

"""End to end through the real packaged CPU model: an AGIEval subset and MATH-500."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.model


def test_run_agieval_lsat_ar_and_math500_limit_2(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "agieval_lsat_ar,math500", "--limit", "2",
              "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    assert "agieval_lsat_ar" in res.out and "math500" in res.out and "level=" in res.out  # breakdown table

    payload = json.loads((out / "results.json").read_text())
    ag, m = payload["results"]["agieval_lsat_ar"], payload["results"]["math500"]
    assert ag["n"] == 2 and 0.0 <= ag["acc"] <= 1.0 and ag["n_errors"] == 0
    assert m["n"] == 2 and 0.0 <= m["exact_match"] <= 1.0 and m["n_errors"] == 0
    levels = [k for k in payload["breakdown"]["math500"] if k.startswith("level=")]
    assert levels and all(k[len("level="):].isdigit() for k in levels)
    assert payload["config"]["requests"]["sent"] == 4

    labels = [json.loads(x)["label"] for x in (data_dir / "agieval/lsat-ar.jsonl").read_text().splitlines()[:2]]
    for s, label in zip(_samples(out, "agieval_lsat_ar"), labels):
        assert s["prompt"].endswith("\nA: Among A through E, the answer is")
        assert s["target"] == label
        assert s["extracted"] is None or s["extracted"] in "ABCDE"
        assert s["score"] == float(s["extracted"] == label)
    for s in _samples(out, "math500"):
        assert s["prompt"].startswith("Problem:\nFind the domain") and s["prompt"].endswith("\n\nSolution:")
        assert "Problem:" not in s["output"]  # the stop sequence cut it
        assert s["score"] in (0.0, 1.0) and s["extra"]["level"] in range(1, 6)

    # The samples re-score without the model to the same metrics.
    again = cli("run", "--model", f"replay:{out}", "--tasks", "agieval_lsat_ar,math500", "--limit", "2",
                "--data-dir", data_dir, "--store", store_path, "--output", tmp_path / "rescored")
    assert again.code == 0, again.err
    assert json.loads((tmp_path / "rescored" / "results.json").read_text())["results"] == payload["results"]


def _samples(out, task):
    return [json.loads(x) for x in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]

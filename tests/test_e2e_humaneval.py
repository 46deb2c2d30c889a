"""humaneval end to end through the real packaged CPU model (slow: keep --limit 2, few tokens)."""
from __future__ import annotations

import json

import pytest
from conftest import REPO

pytestmark = pytest.mark.model


@pytest.fixture
def short_tasks(tmp_path, monkeypatch):
    """The shipped humaneval task with max_tokens 64, so the CPU model finishes quickly."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    spec = (REPO / "tasks" / "humaneval.yaml").read_text(encoding="utf-8")
    (folder / "humaneval.yaml").write_text(spec.replace("max_tokens: 512", "max_tokens: 64"), encoding="utf-8")
    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(folder))


def _results(cli, tmp_path, data_dir, store_path, *extra):
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "humaneval", "--limit", "2", "--data-dir", data_dir,
              "--store", store_path, "--output", out, *extra)
    assert res.code == 0, res.err
    samples = [json.loads(x) for x in (out / "samples" / "humaneval.jsonl").read_text().splitlines()]
    return json.loads((out / "results.json").read_text())["results"]["humaneval"], samples


def test_humaneval_limit_2(cli, tmp_path, data_dir, store_path, short_tasks):
    r, samples = _results(cli, tmp_path, data_dir, store_path)
    assert r["n"] == 2 and 0.0 <= r["pass@1"] <= 1.0
    for s in samples:
        assert s["prompt"].rstrip().endswith('"""')  # the problem's prompt verbatim
        assert s["trace"][0]["status"] in ("passed", "failed", "timeout", "killed") and s["trace"][0]["isolation"]
        assert s["scores_all"] == [s["score"]]


def test_humaneval_mpsc_limit_2(cli, tmp_path, data_dir, store_path, short_tasks):
    r, samples = _results(cli, tmp_path, data_dir, store_path, "--samples", "2", "--aggregate", "mpsc")
    assert {"pass@1", "mpsc_pass@1"} <= set(r)
    for s in samples:
        assert len(s["outputs"]) == 2 and len(s["scores_all"]) == 2
        pick = s["trace"][-1]["mpsc"]["pick"]
        assert s["metrics"]["mpsc_pass@1"] == s["scores_all"][pick]

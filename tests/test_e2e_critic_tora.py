"""End to end through the real packaged CPU model: self-consistency, CRITIC and
tool-integrated reasoning on MATH-500 (tiny limits; the 135M model's answers
are mostly wrong, so these check the plumbing, not accuracy)."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.model


def _samples(out, task):
    return [json.loads(x) for x in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


def test_self_consistency_math500(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "math500", "--limit", "3", "--samples", "4",
              "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    r = json.loads((out / "results.json").read_text())["results"]["math500"]
    assert r["n"] == 3 and {"maj@1", "maj@4", "pass@4", "mean"} <= set(r)
    assert r["exact_match"] == pytest.approx(r["maj@4"])
    assert all(len(s["outputs"]) == 4 for s in _samples(out, "math500"))


def test_critic_math500(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "math500", "--limit", "2", "--critic", "--max-rounds", "2",
              "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    payload = json.loads((out / "results.json").read_text())
    r = payload["results"]["math500"]
    assert r["n"] == 2 and r["n_errors"] == 0
    assert {"acc_round_0", "acc_round_1", "acc_round_2", "flip_wrong_to_right", "flip_right_to_wrong"} <= set(r)
    assert r["exact_match"] == pytest.approx(r["acc_round_2"])
    assert payload["config"]["options"] == {"critic": True, "max_rounds": 2}
    for s in _samples(out, "math500"):
        assert s["trace"][0]["round"] == 0 and 1 <= len(s["trace"]) <= 3
        assert all("tool_output" in step for step in s["trace"][1:])
    # a rerun replays every round from the cache
    again = cli("run", "--model", "smollm2-135m", "--tasks", "math500", "--limit", "2", "--critic", "--max-rounds", "2",
                "--data-dir", data_dir, "--store", store_path, "--output", tmp_path / "again")
    assert again.code == 0, again.err
    cfg = json.loads((tmp_path / "again" / "results.json").read_text())["config"]
    assert cfg["requests"]["sent"] == 0


def test_tora_math500(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "math500_tora_lite", "--limit", "2",
              "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    r = json.loads((out / "results.json").read_text())["results"]["math500_tora_lite"]
    assert r["n"] == 2 and r["n_errors"] == 0 and 0.0 <= r["exact_match"] <= 1.0 and "tool_calls" in r
    for s in _samples(out, "math500_tora_lite"):
        assert s["prompt"].rstrip().endswith("Solution:") and s["trace"]
        assert s["trace"][0]["round"] == 0


def test_gsm8k_critic_reference_loop_and_replay(cli, tmp_path, data_dir, store_path):
    """One doc, one CRITIC round (critique + revision calls), then re-scored from
    the samples with replay: same metrics, no model."""
    out = tmp_path / "out"
    res = cli("run", "--model", "smollm2-135m", "--tasks", "gsm8k_critic", "--limit", "1", "--max-rounds", "1",
              "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    r = json.loads((out / "results.json").read_text())["results"]["gsm8k_critic"]
    assert {"acc_round_0", "acc_round_1", "oracle_acc_round_1", "acc_oracle"} <= set(r)
    s = _samples(out, "gsm8k_critic")[0]
    assert [len(step["gen"]) for step in s["trace"]] == [1, 2] and "report" in s["trace"][0]
    again = cli("run", "--model", f"replay:{out}", "--tasks", "gsm8k_critic", "--limit", "1", "--max-rounds", "1",
                "--data-dir", data_dir, "--store", tmp_path / "r.db", "--output", tmp_path / "replayed")
    assert again.code == 0, again.err
    r2 = json.loads((tmp_path / "replayed" / "results.json").read_text())["results"]["gsm8k_critic"]
    assert {k: v for k, v in r2.items() if "stderr" not in k} == {k: v for k, v in r.items() if "stderr" not in k}

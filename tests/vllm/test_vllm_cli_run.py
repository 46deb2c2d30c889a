"""`evalkit run --model vllm:<converted smollm2> --tasks bbh_date_understanding
--limit 4 --samples 4` end to end on CPU: one engine for the whole run, and the
4 samples of each prompt leave as one request with n=4."""
from __future__ import annotations

import json

import vllm

from evalkit.models.vllm import VLLMBackend


def test_cli_run_builds_one_engine_and_sends_native_n(cli, model_dir, data_dir, tmp_path, monkeypatch):
    calls = []
    original = vllm.LLM.generate

    def spy(self, prompts, params=None, **kw):
        calls.append((list(prompts), list(params) if isinstance(params, list) else [params]))
        return original(self, prompts, params, **kw)

    monkeypatch.setattr(vllm.LLM, "generate", spy)
    built = VLLMBackend.engines_built
    out = tmp_path / "out"
    res = cli("run", "--model", f"vllm:{model_dir}", "--model-args", "dtype=float32,max_model_len=2048",
              "--tasks", "bbh_date_understanding", "--limit", "4", "--samples", "4", "--data-dir", data_dir,
              "--store", tmp_path / "s.db", "--output", out)
    assert res.code == 0, res.err
    assert VLLMBackend.engines_built == built + 1
    assert len(calls) == 1  # every pending request in one LLM.generate call
    prompts, params = calls[0]
    assert len(prompts) == 4 and [p.n for p in params] == [4, 4, 4, 4]
    payload = json.loads((out / "results.json").read_text())
    r = payload["results"]["bbh_date_understanding"]
    assert r["n"] == 4 and {"maj@4", "pass@4", "mean"} <= set(r)
    assert payload["config"]["backend"]["backend"] == "vllm"
    samples = [json.loads(x) for x in (out / "samples" / "bbh_date_understanding.jsonl").read_text().splitlines()]
    assert all(len(s["outputs"]) == 4 for s in samples)

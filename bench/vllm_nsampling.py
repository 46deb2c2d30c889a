"""Native n-sampling vs n separate requests, on one vLLM engine.

    .venv-vllm/bin/python bench/vllm_nsampling.py [--prompts 20] [--samples 8]

Runs 20 BBH date_understanding prompts x 8 samples (temperature 0.8, 64 new
tokens) twice on the same engine: as 20 requests with n=8, and as 160 requests
with n=1 whose ``first_sample`` is 0..7 (a resume would send exactly these).
Both go through ``VLLMBackend.generate``, so both are one ``LLM.generate``
call. The prefix cache is emptied before each run so neither inherits the
other's cached prompts.

Prefill work is read from vLLM's own Prometheus counters (``disable_log_stats``
off), as deltas over each run:
  prompt_tokens          prompt tokens of every engine request (an n=8 request
                         is 8 child requests inside the engine, so 8x the prompt)
  local_compute          of those, the tokens actually prefilled
  local_cache_hit        the tokens served from the prefix cache instead
The sample texts of the two runs are compared too: seed + i for child i of an
n=8 request is sample_seed(i), so they should be the same texts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # 1 GiB KV cache, not most of a shared machine

from evalkit.core.types import GenParams, Request  # noqa: E402
from evalkit.models.vllm import VLLMBackend  # noqa: E402

SOURCES = ("local_compute", "local_cache_hit")


def prompts(n: int) -> list[str]:
    data = Path(os.environ.get("EVALKIT_DATA_DIR") or REPO.parent / "shared" / "data")
    examples = json.loads((data / "bbh" / "date_understanding.json").read_text())["examples"][:n]
    return [f"Q: {ex['input']}\nA: Let's think step by step." for ex in examples]


def counters(llm) -> dict[str, int]:
    """The prompt/generation token counters, by source where vLLM splits them."""
    out: dict[str, int] = {}
    for m in llm.get_metrics():
        if m.name in ("vllm:prompt_tokens", "vllm:generation_tokens"):
            out[m.name.split(":")[1]] = out.get(m.name.split(":")[1], 0) + m.value
        elif m.name == "vllm:prompt_tokens_by_source" and m.labels.get("source") in SOURCES:
            out[m.labels["source"]] = out.get(m.labels["source"], 0) + m.value
    return out


def run(backend: VLLMBackend, requests: list[Request]) -> tuple[float, dict[str, int], list]:
    llm = backend.engine().llm
    llm.reset_prefix_cache()
    before = counters(llm)
    start = time.perf_counter()
    gens = backend.generate(requests)
    wall = time.perf_counter() - start
    after = counters(llm)
    return wall, {k: after.get(k, 0) - before.get(k, 0) for k in after}, gens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the two runs this many times")
    ap.add_argument("--no-prefix-caching", action="store_true", help="to see what the cache saves")
    args = ap.parse_args()

    texts = prompts(args.prompts)
    params = dict(temperature=0.8, max_tokens=args.max_tokens)
    native = [Request("bench", i, p, GenParams(n=args.samples, **params)) for i, p in enumerate(texts)]
    split = [Request("bench", i, p, GenParams(n=1, **params), first_sample=k)
             for i, p in enumerate(texts) for k in range(args.samples)]

    backend = VLLMBackend("smollm2-135m", dtype=args.dtype, max_model_len=2048, disable_log_stats=False,
                          enable_prefix_caching=not args.no_prefix_caching)
    t0 = time.perf_counter()
    backend.generate([Request("bench", -1, "Hello", GenParams(max_tokens=4))])  # build + warm the engine
    block = backend.engine().llm.llm_engine.vllm_config.cache_config.block_size
    print(f"engine start + warm-up: {time.perf_counter() - t0:.1f} s; KV block size {block}; "
          f"prefix caching {'off' if args.no_prefix_caching else 'on'}")

    results = {}
    runs = ((f"n={args.samples} x {len(native)} requests", native), (f"n=1 x {len(split)} requests", split))
    for name, reqs in runs * args.rounds:
        wall, delta, gens = run(backend, reqs)
        results[name] = gens
        print(f"{name:>24}: {wall:6.1f} s  prompt_tokens={delta.get('prompt_tokens', 0)}  "
              f"prefilled={delta.get('local_compute', 0)}  cache_hits={delta.get('local_cache_hit', 0)}  "
              f"generated={delta.get('generation_tokens', 0)}")

    a, b = results.values()
    flat_a = [t for g in a for t in g.texts]
    flat_b = [g.texts[0] for g in b]
    same = sum(x == y for x, y in zip(flat_a, flat_b))
    print(f"identical samples across the two runs: {same}/{len(flat_a)}")
    print(f"distinct prompt tokens: {sum(g.usage['prompt_tokens'] for g in a)}")
    backend.close()


if __name__ == "__main__":  # vLLM starts worker processes
    main()

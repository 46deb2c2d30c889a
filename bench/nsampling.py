"""Bench 5: native n-sampling on vLLM's CPU engine, `vllm_nsampling.py` run in .venv-vllm.

One engine, 20 BBH prompts x 8 samples, as 20 requests with n=8 (native) and
as 160 requests with n=1 (what a resume sends), alternated `repeats` times
inside the one process (its --rounds) so the engine starts once. The n=1 run
is the anchor: ratio < 1 means native n is faster. Without .venv-vllm the
bench is reported as skipped, with the reason.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from common import REPO, median, timed

HERE = Path(__file__).resolve().parent
VLLM_PY = REPO / ".venv-vllm" / "bin" / "python"
BENCH = "Native n-sampling, vLLM CPU (20 prompts x 8 samples, 64 tokens)"

# One line per run, as vllm_nsampling.py prints it:
#   "n=8 x 20 requests:   41.2 s  prompt_tokens=... prefilled=... cache_hits=... generated=..."
_RUN = re.compile(r"^\s*(?P<name>n=\d+ x \d+ requests):\s+(?P<s>[\d.]+) s\s+(?P<counts>.*)$")
_COUNT = re.compile(r"(\w+)=(\d+)")
_SAME = re.compile(r"identical samples across the two runs: (\d+)/(\d+)")
_WARM = re.compile(r"engine start \+ warm-up: ([\d.]+) s")
_DISTINCT = re.compile(r"distinct prompt tokens: (\d+)")


def parse(stdout: str) -> dict:
    """Per-run seconds and token counters, the identical-samples count and the engine start time."""
    runs: dict[str, list[dict]] = {}
    for line in stdout.splitlines():
        m = _RUN.match(line)
        if m:
            runs.setdefault(m["name"], []).append(
                {"seconds": float(m["s"]), **{k: int(v) for k, v in _COUNT.findall(m["counts"])}})
    same, warm, distinct = _SAME.search(stdout), _WARM.search(stdout), _DISTINCT.search(stdout)
    if len(runs) != 2 or same is None or warm is None or distinct is None:
        raise ValueError(f"unexpected vllm_nsampling.py output:\n{stdout[-2000:]}")
    return {"runs": runs, "identical": int(same[1]), "samples": int(same[2]), "engine_start_s": float(warm[1]),
            "distinct_prompt_tokens": int(distinct[1])}


def rows(parsed: dict, peak_rss_mb: float) -> list[dict]:
    (native_name, native), (split_name, split) = parsed["runs"].items()  # printed native first
    anchor = median([r["seconds"] for r in split])
    out = []
    for label, name, runs in (("native n=8", native_name, native), ("8 separate n=1", split_name, split)):
        secs = median([r["seconds"] for r in runs])
        last = runs[-1]
        out.append({"bench": BENCH, "tool": f"evalkit vllm, {label} ({name.split(' x ')[1]})", "median_s": secs,
                    "ratio_vs_anchor": secs / anchor, "peak_rss_mb": peak_rss_mb,
                    "prompt_tokens": last.get("prompt_tokens"), "prefilled": last.get("prefilled"),
                    "cache_hits": last.get("cache_hits"), "generated": last.get("generated"),
                    "identical_texts": f"{parsed['identical']}/{parsed['samples']}"})
    return out


def main(repeats: int = 3) -> dict:
    if not VLLM_PY.exists():
        return {"bench": BENCH, "rows": [], "skipped": f"{VLLM_PY} is missing (make install-vllm)"}
    t = timed([VLLM_PY, HERE / "vllm_nsampling.py", "--rounds", str(repeats)], env={"VLLM_CPU_KVCACHE_SPACE": "1"})
    parsed = parse(t.stdout)
    # one process runs both, so the peak RSS (engine included) is the same for both rows
    return {"rows": rows(parsed, t.max_rss_mb), "identical": parsed["identical"], "samples": parsed["samples"],
            "engine_start_s": parsed["engine_start_s"], "distinct_prompt_tokens": parsed["distinct_prompt_tokens"],
            "wall_s": t.wall_s}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))

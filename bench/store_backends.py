"""Store backends: write throughput (samples/s) of 1 vs 8 concurrent writers, and
`site build` time over many stored runs, on SQLite (the anchor) and PostgreSQL.

usage: store_backends.py [REPEATS] [--runs 100] [--samples 6511] [--writer-runs 4]

Writers are separate processes, each storing whole runs (start_run, then
finish_run with every sample in one transaction) the way `evalkit run` does;
samples are sized like real BBH records (prompt ~1.5 kB). The site build reads
RUNS runs x SAMPLES samples spread over the 27 BBH subtasks (the full bbh group
is 6,511 docs). PostgreSQL is a throwaway local cluster (see tests/pgserver.py).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

BENCH_W = "store writes"
BENCH_S = "site build"
TASKS = [f"bbh_sub{i:02d}" for i in range(27)]


def _records(run: int, n: int) -> list:
    from evalkit.core.types import SampleRecord

    out = []
    for i in range(n):
        task, doc = TASKS[i % len(TASKS)], i // len(TASKS)
        prompt = f"Q{run}-{i}: " + "Which sentence is more plausible? " * 45
        out.append(SampleRecord(task, doc, prompt, [f"Let me think step by step... So the answer is (A). {i}"],
                                "(A)", "(A)", float(i % 3 == 0), {"exact_match": float(i % 3 == 0)}))
    return out


def _writer(target: str, tag: str, runs: int, n: int, ready=None) -> None:
    from evalkit.store import Store

    st = Store(target)
    batches = [_records(r, n) for r in range(runs)]
    if ready is not None:
        ready.wait()  # time the writes, not Python's start-up
    for r, recs in enumerate(batches):
        run_id = f"{tag}-{r}"
        st.start_run(run_id, f"model-{tag}", ["bbh"], {"limit": None})
        results = {t: {"exact_match": 0.33, "exact_match_stderr": 0.01, "n": n // len(TASKS)} for t in TASKS}
        st.finish_run(run_id, results, [(t, "exact_match", 0.33, 0.01, n // len(TASKS)) for t in TASKS], recs, {})
    st.close()


def writes(target: str, writers: int, runs_each: int, n: int) -> float:
    """samples/s of `writers` processes storing `runs_each` runs of n samples each."""
    from evalkit.store import Store

    Store(target).close()  # schema first, so the timing is the writes alone
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(writers + 1)
    procs = [ctx.Process(target=_writer, args=(target, f"w{writers}-{i}-{time.time_ns()}", runs_each, n, ready))
             for i in range(writers)]
    for p in procs:
        p.start()
    ready.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
        assert p.exitcode == 0, f"writer failed with {p.exitcode}"
    return writers * runs_each * n / (time.perf_counter() - t0)


def site_time(target: str, out: Path) -> float:
    from evalkit.report.site.build import build_site

    t0 = time.perf_counter()
    build_site(target, out)
    return time.perf_counter() - t0


def main(repeats: int = 1, runs: int = 100, samples: int = 6511, writer_runs: int = 4,
         writer_samples: int = 1000) -> dict:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still stops the cluster below
    try:
        from pgserver import start_cluster

        server, root = start_cluster()
    except BaseException as exc:  # pytest's skip is a BaseException; the bench says why in its table
        return {"bench": BENCH_W, "rows": [], "skipped": f"no PostgreSQL cluster: {exc}"}
    tmp = Path(tempfile.mkdtemp(prefix="evalkit-store-bench-"))
    rows, raw = [], {}
    try:
        targets = {"sqlite": lambda name: str(tmp / f"{name}.db"),
                   "postgresql": lambda name: server.url(server.new_database())}
        for writers in (1, 8):
            per = {}
            for kind, make in targets.items():
                per[kind] = statistics.median(writes(make(f"w{writers}-{i}"), writers, writer_runs, writer_samples)
                                              for i in range(repeats))
            raw[f"writes_{writers}"] = per
            print(f"# {writers} writer(s): {per}", file=sys.stderr, flush=True)
            for kind in targets:
                rows.append({"bench": f"{BENCH_W}, {writers} writer{'s' * (writers > 1)} x {writer_runs} runs x "
                                      f"{writer_samples} samples", "tool": kind,
                             "median_s": writers * writer_runs * writer_samples / per[kind],
                             "ratio_vs_anchor": per["sqlite"] / per[kind], "peak_rss_mb": 0.0,
                             "samples_per_s": per[kind]})
        sites = {}
        for kind, make in targets.items():
            target = make("site")
            per_proc = max(1, runs // 4)
            for start in range(0, runs, per_proc):  # fill with 4 writers at a time
                procs = [mp.get_context("spawn").Process(target=_writer, args=(target, f"s{start}-{j}", 1, samples))
                         for j in range(min(per_proc, runs - start))]
                for p in procs:
                    p.start()
                for p in procs:
                    p.join()
            print(f"# filled {kind} with {runs} runs", file=sys.stderr, flush=True)
            sites[kind] = statistics.median(site_time(target, tmp / f"site-{kind}") for _ in range(repeats))
            print(f"# site build on {kind}: {sites[kind]:.1f} s", file=sys.stderr, flush=True)
        raw["site_s"] = sites
        for kind in targets:
            rows.append({"bench": f"{BENCH_S}, {runs} runs x {samples} samples", "tool": kind,
                         "median_s": sites[kind], "ratio_vs_anchor": sites[kind] / sites["sqlite"],
                         "peak_rss_mb": 0.0})
    finally:
        server.ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"rows": rows, "raw": raw}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("repeats", nargs="?", type=int, default=1)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--samples", type=int, default=6511)
    ap.add_argument("--writer-runs", type=int, default=4)
    ap.add_argument("--writer-samples", type=int, default=1000)
    a = ap.parse_args()
    print(json.dumps(main(a.repeats, a.runs, a.samples, a.writer_runs, a.writer_samples), indent=2))

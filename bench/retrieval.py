"""Bench 4: SciFact retrieval (300 test claims over 5,183 abstracts) with the packaged
all-MiniLM-L6-v2, evalkit's CLI vs mteb's own SciFact task on the same local BEIR files.

These commands alternate: evalkit with an empty embedding cache (a fresh
EVALKIT_CACHE each time, so everything is encoded and any exported graph is
exported again) on its default encoder backend; the same on `backend=torch` when
the default is another one; the quantized `backend=onnx-int8` (a labelled row,
never a default) when its runtime is installed; evalkit run again over the cache
the default's cold run just filled (nothing is encoded); and mteb
(`mteb_scifact.py` in .venv-bench, which has no cache). Wall time, CPU time and peak RSS include
start-up; the targets are judged on wall time, CPU time says how much of a
gap is load from other jobs.
The metrics of both tools are compared key by key (every ndcg/map/recall/
precision/mrr cutoff they share); mteb rounds all but mrr to 5 decimals, so
"identical" means within 1e-4.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import ANCHOR_PY, DATA, EVALKIT_PY, OUT, alternate, last_json, median

HERE = Path(__file__).resolve().parent
BENCH = "SciFact retrieval, MiniLM (300 queries x 5,183 docs)"
TOLERANCE = 1e-4
HEADLINE = ("ndcg_at_10", "map_at_10", "mrr_at_10", "recall_at_100")
ANCHOR = "mteb"

# Runs evalkit's CLI with EVALKIT_CACHE chosen per mode: "cold" makes a fresh
# empty folder and remembers it, "cached" reuses the one the last cold run filled.
# At exit it prints the process's CPU seconds (see cpu_seconds).
_EVALKIT = (
    "import atexit, os, resource, sys, tempfile\n"
    "def cpu():\n"
    "    r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    print('EVALKIT_BENCH_CPU_S=%.2f' % (r.ru_utime + r.ru_stime), flush=True)\n"
    "atexit.register(cpu)\n"
    "mode, tag, work, *args = sys.argv[1:]\n"
    "latest = os.path.join(work, 'latest-cache-' + tag)\n"
    "if mode == 'cold':\n"
    "    cache = tempfile.mkdtemp(prefix='evalkit-cache-', dir=work)\n"
    "    open(latest, 'w').write(cache)\n"
    "else:\n"
    "    cache = open(latest).read()\n"
    "os.environ['EVALKIT_CACHE'] = cache\n"
    "sys.argv = ['evalkit', *args]\n"
    "from evalkit.cli import main\n"
    "main()\n"
)


def model_path() -> Path:
    """The packaged MiniLM folder, exactly as evalkit's `minilm` alias resolves it."""
    from evalkit.models.dense import packaged_model_path
    from evalkit.models.embedding import PACKAGED

    return packaged_model_path(PACKAGED["minilm"])


def evalkit_cmd(mode: str, backend: str, out: str, work: Path) -> list:
    """``mode`` cold or cached; ``backend`` None for evalkit's default."""
    args = ["--model-args", f"backend={backend}"] if backend else []
    return [EVALKIT_PY, "-c", _EVALKIT, mode, backend or "default", work, "run", "--model", "minilm",
            "--tasks", "scifact", *args, "--data-dir", DATA, "--store", work / f"{out}.db", "--output", work / out,
            "--overwrite"]


def modes() -> dict[str, tuple[str, str | None, str]]:
    """Row name -> (cache mode, backend, output folder); the cached rerun follows the default's cold run."""
    from evalkit.models import st_runtime as rt

    out: dict[str, tuple[str, str | None, str]] = {
        f"evalkit (cold cache, default backend {rt.DEFAULT})": ("cold", None, "cold")}
    if rt.DEFAULT != "torch":
        out["evalkit (cold cache, backend=torch)"] = ("cold", "torch", "cold-torch")
    out["evalkit (cached rerun)"] = ("cached", None, "cached")
    if rt.missing_for("onnx-int8") is None:
        out["evalkit (cold cache, backend=onnx-int8, QUANTIZED)"] = ("cold", "onnx-int8", "cold-int8")
    return out


def evalkit_result(results_json: Path) -> tuple[dict[str, float], float, dict[str, str]]:
    """A results.json's metrics, the seconds its evaluate phase took (no imports, no model
    load) and the package versions it recorded."""
    res = json.loads(results_json.read_text())
    scores = res["results"]["scifact"]
    metrics = {k: v for k, v in scores.items() if k.split("_at_")[0] in ("ndcg", "map", "recall", "precision", "mrr")}
    return metrics, res["config"]["timings"]["evaluate_s"], res["config"]["environment"]["packages"]


def cpu_seconds(stdout: str) -> float:
    """User + system CPU seconds the evalkit wrapper printed at exit. On a shared
    machine this moves far less than wall time when other jobs come and go."""
    return float(stdout.rsplit("EVALKIT_BENCH_CPU_S=", 1)[1].split()[0])


def compare(ours: dict[str, float], theirs: dict[str, float]) -> dict:
    """Every shared metric key, its largest absolute difference and whether all lie within TOLERANCE."""
    shared = sorted(set(ours) & set(theirs))
    diffs = {k: abs(ours[k] - theirs[k]) for k in shared}
    worst = max(diffs, key=diffs.get)
    return {"compared": len(shared), "max_abs_diff": diffs[worst], "worst_key": worst,
            "identical": diffs[worst] <= TOLERANCE, "tolerance": TOLERANCE,
            "evalkit": {k: ours[k] for k in HEADLINE}, "mteb": {k: theirs[k] for k in HEADLINE}}


def tool_row(tool: str, ts: list, anchor_wall: float, **extra) -> dict:
    wall = median([t.wall_s for t in ts])
    return {"bench": BENCH, "tool": tool, "median_s": wall, "peak_rss_mb": median([t.max_rss_mb for t in ts]),
            "ratio_vs_anchor": wall / anchor_wall, **extra}


def main(repeats: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="retrieval-bench-", dir=OUT))
    rows_of = modes()
    commands = {name: evalkit_cmd(*spec, work) for name, spec in rows_of.items()}
    commands[ANCHOR] = [ANCHOR_PY, HERE / "mteb_scifact.py", DATA / "retrieval" / "scifact", model_path()]
    res = alternate(commands, repeats)

    runs = [last_json(t.stdout) for t in res[ANCHOR]]
    theirs = runs[-1]["metrics"]
    anchor_wall = median([t.wall_s for t in res[ANCHOR]])
    anchor_cpu = median([r["cpu_s"] for r in runs])
    rows, metrics, vs_torch, found = [], {}, {}, {}
    for name, (_, _, out) in rows_of.items():
        # the last run of each row: every run rewrites its row's results folder
        found[name] = evalkit_result(work / out / "results.json")
    torch_name = next(n for n, (m, b, _) in rows_of.items()  # the torch path's cold run: the exactness reference
                      if m == "cold" and (b == "torch" or (b is None and n.endswith("default backend torch)"))))
    for name, (ours, evaluate_s, _) in found.items():
        metrics[name] = compare(ours, theirs)
        vs_torch[name] = compare(ours, found[torch_name][0])
        cpu = median([cpu_seconds(t.stdout) for t in res[name]])
        rows.append(tool_row(name, res[name], anchor_wall, ndcg_at_10=ours["ndcg_at_10"], evaluate_s=evaluate_s,
                             cpu_s=cpu, cpu_ratio_vs_anchor=cpu / anchor_cpu,
                             max_diff_vs_mteb=metrics[name]["max_abs_diff"],
                             max_diff_vs_torch=vs_torch[name]["max_abs_diff"]))
    rows.append(tool_row(f"mteb {runs[-1]['mteb']}", res[ANCHOR], anchor_wall, ndcg_at_10=theirs["ndcg_at_10"],
                         evaluate_s=median([r["seconds"] for r in runs]),  # mteb.evaluate alone
                         cpu_s=anchor_cpu, cpu_ratio_vs_anchor=1.0,
                         same_metrics_every_run=all(r["metrics"] == theirs for r in runs)))
    # Equal metrics only mean something if both sides ran the same encoder code.
    default_pkgs = found[rows[0]["tool"]][2]
    stack = {name: {"evalkit": default_pkgs.get(name), "mteb": v} for name, v in runs[-1]["packages"].items()}
    cold = rows[0]  # the default backend's cold run
    cached = next(r for r in rows if r["tool"] == "evalkit (cached rerun)")
    default_exact = metrics[cold["tool"]]["identical"] and vs_torch[cold["tool"]]["identical"]
    return {"rows": rows, "metrics": metrics, "vs_torch": vs_torch, "default_row": cold["tool"],
            "encoder_stack": stack, "same_encoder_stack": all(v["evalkit"] == v["mteb"] for v in stack.values()),
            "targets": {"cold_vs_mteb": cold["ratio_vs_anchor"],
                        "cold_at_most_half_of_mteb": cold["ratio_vs_anchor"] <= 0.5,
                        "default_within_tolerance": default_exact,
                        "met": cold["ratio_vs_anchor"] <= 0.5 and default_exact,
                        "cold_vs_mteb_cpu": cold["cpu_ratio_vs_anchor"],
                        "cached_s": cached["median_s"], "cached_under_5s": cached["median_s"] < 5}}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))

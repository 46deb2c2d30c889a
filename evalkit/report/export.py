"""`evalkit export --format lm-eval RUN`: a stored run as an lm-eval results file.

The file has the shape lm-evaluation-harness writes (``results`` -> task ->
``"<metric>,<filter>"`` with ``"<metric>_stderr,<filter>"``, plus ``groups``,
``group_subtasks``, ``n-samples``, ``higher_is_better``, ``config``), so
tools that read lm-eval output (dashboards, the Open LLM Leaderboard
scripts, zeno) can read evalkit runs. Metrics evalkit computed itself get the
filter ``none``; metrics that came through the lm-eval bridge keep their own.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalkit.core.errors import ConfigError, StoreError
from evalkit.core.types import LM_EVAL_PREFIX as PREFIX
from evalkit.report.compare import LATEST, latest_run_id, open_store

FORMATS = ("lm-eval",)
_COUNTS = ("n", "n_errors", "subtasks")


def _lm_name(task: str) -> str:
    return task[len(PREFIX):] if task.startswith(PREFIX) else task


def _keys(metric: str) -> tuple[str, str]:
    """evalkit metric name -> (lm-eval value key, lm-eval stderr key)."""
    name, _, flt = metric.partition(",")
    flt = flt or "none"
    return f"{name},{flt}", f"{name}_stderr,{flt}"


def _task_block(task: str, row: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"alias": _lm_name(task)}
    for k, v in row.items():
        if k.endswith("_stderr") or k in _COUNTS or not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        vk, sk = _keys(k)
        se = row.get(f"{k}_stderr")
        block[vk] = None if v != v else v
        block[sk] = se if isinstance(se, (int, float)) and not math.isnan(se) else "N/A"
    return block


def lm_eval_results(run: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, Any]:
    """The lm-eval-shaped payload of one stored run (``Store.run`` output)."""
    results = run["results"] or {}
    config = run["config"] or {}
    specs = config.get("task_specs", {})
    tasks = {_lm_name(t): _task_block(t, r) for t, r in results.items() if isinstance(r, dict) and t not in groups}
    group_blocks = {_lm_name(g): _task_block(g, results[g]) for g in groups if isinstance(results.get(g), dict)}
    env = config.get("environment", {}) if isinstance(config.get("environment"), dict) else {}
    return {
        "results": {**tasks, **group_blocks},
        "groups": group_blocks,
        "group_subtasks": {_lm_name(g): [_lm_name(t) for t in members] for g, members in groups.items()},
        "configs": {_lm_name(t): {"task": _lm_name(t), "metadata": {"evalkit_spec": specs.get(t)}} for t in tasks},
        "versions": {t: "evalkit" for t in tasks},
        "n-shot": {},
        "higher_is_better": {t: {k.partition(",")[0]: True for k in b if "," in k and "_stderr," not in k}
                             for t, b in tasks.items()},
        "n-samples": {_lm_name(t): {"original": (specs.get(t) or {}).get("n_docs", r.get("n")), "effective": r.get("n")}
                      for t, r in results.items() if isinstance(r, dict) and t not in groups},
        "config": {"model": "evalkit", "model_args": config.get("model"), "batch_size": config.get("batch_size"),
                   "batch_sizes": [], "device": None, "use_cache": None, "limit": config.get("limit"),
                   "bootstrap_iters": 0, "gen_kwargs": None, "random_seed": config.get("seed")},
        "git_hash": env.get("git_commit") or env.get("git"),
        "date": run.get("finished") or run.get("started"),
        "model_name": run["model"],
        "evalkit": {"run_id": run["run_id"], "tasks": run["tasks"], "backend": config.get("backend")},
    }


def export_run(ref: str, store_path: str | Path, fmt: str = "lm-eval", output: str | None = None) -> str:
    """Write the export of run ``ref`` (a run id or latest:MODEL); returns where it went ('-' = stdout text)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format '{fmt}'; supported: {', '.join(FORMATS)}")
    store = open_store(store_path)
    try:
        run_id = latest_run_id(store, ref[len(LATEST):]) if ref.startswith(LATEST) else ref
        run = store.run(run_id)
    finally:
        store.close()
    if run["status"] != "complete":
        raise StoreError(f"run {run_id} is {run['status']}, not complete; nothing to export")
    stored = (run.get("layout") or {}).get("groups")
    # A run stored before evalkit saved run layouts exports its tasks without group membership.
    groups = {g: m for g, m in (stored or {}).items() if g in (run["results"] or {})}
    payload = lm_eval_results(run, groups)
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"
    if output == "-":
        return text
    path = Path(output or f"results_{run_id}.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    return str(path)

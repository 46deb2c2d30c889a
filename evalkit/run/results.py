"""From scored samples to metrics, results.json and samples/<task>.jsonl.

results.json is shaped like lm-eval's: ``results`` -> task or group ->
metric -> value on a 0-1 scale, with ``<metric>_stderr`` beside each value.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from evalkit.core.errors import StoreError
from evalkit.core.types import SampleRecord
from evalkit.scoring.metrics import macro, summarize
from evalkit.spec.taskspec import Catalog

MetricRow = tuple[str, str, float, float, int]  # task, metric, value, stderr, n


def task_metrics(task: str, records: list[SampleRecord]) -> dict[str, Any]:
    """Every per-doc metric of a task, averaged, with stderr and n."""
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r.metrics if k not in keys)
    out: dict[str, Any] = {}
    for k in keys:
        values = [r.metrics[k] for r in records if k in r.metrics]
        m, se = summarize(values)
        out[k], out[f"{k}_stderr"] = m, se
    out["n"] = len(records)
    out["n_errors"] = sum(1 for r in records if r.error)
    out.update(extraction_rates(records))
    return out


def extraction_rates(records: list[SampleRecord]) -> dict[str, float]:
    """no_answer_rate and hedge_rate over every output of tasks whose answers are
    extracted (docs/extraction.md); empty for tasks that extract nothing."""
    statuses = [s for r in records for s in r.extraction_status_all]
    if not statuses:
        return {}
    return {"no_answer_rate": sum(s == "no_answer" for s in statuses) / len(statuses),
            "hedge_rate": sum(s == "hedged" for s in statuses) / len(statuses)}


def breakdown(records: list[SampleRecord], metric: str) -> dict[str, dict[str, Any]]:
    """Main metric by each breakdown field value (e.g. MATH subject, level)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for field, value in r.extra.items():
            groups[f"{field}={value}"].append(r.score)
    out = {}
    for key in sorted(groups):
        m, se = summarize(groups[key])
        out[key] = {metric: m, f"{metric}_stderr": se, "n": len(groups[key])}
    return out


def group_metrics(members: list[str], results: dict[str, dict[str, Any]], metric: str,
                  records: dict[str, list[SampleRecord]]) -> dict[str, Any]:
    """Macro (mean of member means) and micro (pooled over docs) averages."""
    present = [m for m in members if m in results and metric in results[m]]
    mac, mac_se = macro([results[m][metric] for m in present], [results[m][f"{metric}_stderr"] for m in present])
    pooled = [v for m in members for v in _leaf_scores(m, records, results)]
    mic, mic_se = summarize(pooled)
    leaves = [r for m in members for r in _leaf_records(m, records, results)]
    return {metric: mac, f"{metric}_stderr": mac_se, f"{metric}_macro": mac, f"{metric}_macro_stderr": mac_se,
            f"{metric}_micro": mic, f"{metric}_micro_stderr": mic_se, "n": len(pooled), "subtasks": len(present),
            **extraction_rates(leaves)}


def _leaf_records(name: str, records: dict[str, list[SampleRecord]], results: dict[str, Any]) -> list[SampleRecord]:
    if name in records:
        return records[name]
    return [r for m in results.get(name, {}).get("_members", []) for r in _leaf_records(m, records, results)]


def _leaf_scores(name: str, records: dict[str, list[SampleRecord]], results: dict[str, Any]) -> list[float]:
    if name in records:
        return [r.score for r in records[name]]
    return [v for m in results.get(name, {}).get("_members", []) for v in _leaf_scores(m, records, results)]


def compute_results(catalog: Catalog, requested: list[str], records: dict[str, list[SampleRecord]],
                    main_metric: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], list[MetricRow]]:
    """(results, breakdowns, metric rows for the store) for every task and group."""
    results: dict[str, dict[str, Any]] = {t: task_metrics(t, recs) for t, recs in records.items()}
    breakdowns = {t: b for t, recs in records.items() if (b := breakdown(recs, main_metric[t]))}
    for g in catalog.subgroups(requested):
        members = list(catalog.groups[g].tasks)
        leaves = catalog.expand(g)
        metrics = {main_metric[t] for t in leaves if t in main_metric}
        if len(metrics) != 1:
            continue  # members scored on different metrics: no meaningful average
        metric = metrics.pop()
        results[g] = group_metrics(members, results, metric, records) | {"_members": members}
    rows: list[MetricRow] = []
    for name, res in results.items():
        for k, v in res.items():
            if isinstance(v, float) and not k.endswith("_stderr"):
                rows.append((name, k, v, res.get(f"{k}_stderr", float("nan")), res.get("n", 0)))
    for res in results.values():
        res.pop("_members", None)
    return results, breakdowns, rows


def check_output_dir(out: Path | None, overwrite: bool) -> None:
    """Fail before any compute if the run would overwrite earlier results."""
    if out is None:
        return
    if (out / "results.json").exists() and not overwrite:
        raise StoreError(f"{out}/results.json already exists; pass --overwrite or choose another --output")
    if out.exists() and not out.is_dir():
        raise StoreError(f"--output {out} is a file, not a directory")


TEMP_PREFIX = ".evalkit-"  # a run's unpublished output: .evalkit-<pid>-<random>


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def sweep_temp_dirs(out: Path | None) -> list[Path]:
    """Remove the temp folders a killed run left in ``out`` (those whose writer
    process is gone); a live run's folder beside ours is left alone."""
    if out is None or not out.is_dir():
        return []
    swept = []
    for p in out.glob(TEMP_PREFIX + "*"):
        pid = p.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if p.is_dir() and not (pid.isdigit() and _pid_alive(int(pid))):
            shutil.rmtree(p, ignore_errors=True)
            swept.append(p)
    return swept


def _sample_file(folder: Path, task: str) -> Path:
    path = folder / f"{task}.jsonl"
    if path.parent != folder or task in ("", ".", "..") or "/" in task or "\\" in task:
        raise StoreError(f"task name '{task}' cannot be a file name in {folder}; rename the task")
    return path


def write_output_dir(out: Path, payload: dict[str, Any], records: dict[str, list[SampleRecord]]) -> None:
    """Publish the run into ``out`` so that at every instant (a SIGKILL, a full disk)
    the folder is either the old complete run, the new complete run, or visibly
    incomplete (no results.json): never one run's results.json beside another's samples.

    Everything is written into a temp folder inside ``out`` first. Then the old
    results.json goes (the folder stops claiming completeness), the whole
    ``samples/`` folder is swapped for the new one (so no old task's file stays
    beside the new ones), and results.json is renamed in last: its presence
    means complete. Temp folders of killed runs are swept on the next write.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        sweep_temp_dirs(out)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=out))
        try:
            (tmp / "samples").mkdir()
            for task, recs in records.items():
                with open(_sample_file(tmp / "samples", task), "w", encoding="utf-8") as f:
                    for r in recs:
                        f.write(json.dumps(r.to_json(), ensure_ascii=False, default=str) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            with open(tmp / "results.json", "w", encoding="utf-8") as f:
                json.dump(strict_json(payload), f, indent=2, ensure_ascii=False, default=str, allow_nan=False)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            if (out / "results.json").exists():
                os.unlink(out / "results.json")
            if (out / "samples").exists():
                os.rename(out / "samples", tmp / "old-samples")
            os.rename(tmp / "samples", out / "samples")
            os.replace(tmp / "results.json", out / "results.json")  # last: its presence means complete
            _fsync_dir(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise StoreError(f"cannot write results to {out}: {exc.strerror or exc}") from None


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as null (the stderr of one doc is undefined): results.json
    stays JSON that any parser (jq, JavaScript, Go) reads, not Python's NaN dialect."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def _fsync_dir(path: Path) -> None:
    """Make the renames durable, not only atomic (a power cut after return keeps them)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

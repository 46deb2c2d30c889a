"""``--log-to`` sinks: where a finished run is also sent (MLflow, W&B, the HF Hub).

A sink is a function ``(payload, target) -> str`` registered by name; the
payload is the run's results.json record and ``target`` the text after ``=``
in ``--log-to NAME=TARGET`` (None when absent). Sinks import their client
library only when used. A sink that fails prints a warning and never fails the
run: by then the run is stored, and a tracker outage must not lose it.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

from evalkit.core.errors import ConfigError
from evalkit.core.registry import sinks

log = logging.getLogger("evalkit")

sinks.register_lazy("mlflow", "evalkit.report.sinks.mlflow:log_mlflow")
sinks.register_lazy("wandb", "evalkit.report.sinks.wandb:log_wandb")
sinks.register_lazy("hf-hub", "evalkit.report.sinks.hub:log_hub")


def parse(specs: list[str] | str | None) -> list[tuple[str, str | None]]:
    """``["mlflow", "wandb=my-project"]`` -> [(name, target)], unknown names refused before the run."""
    items = [specs] if isinstance(specs, str) else list(specs or [])
    out = []
    for spec in (s.strip() for item in items for s in item.split(",") if s.strip()):
        name, sep, target = spec.partition("=")
        if name.strip() not in sinks:
            raise ConfigError(f"--log-to {spec}: unknown sink '{name}'; known: {', '.join(sinks.names())}")
        out.append((name.strip(), target.strip() if sep and target.strip() else None))
    return out


def publish(specs: list[tuple[str, str | None]], payload: dict[str, Any]) -> list[str]:
    """Send the run to every sink; returns one line per sink (where it went, or the warning)."""
    lines = []
    for name, target in specs:
        try:
            where = sinks.get(name)(payload, target)
            lines.append(f"logged to {name}: {where}")
        except Exception as exc:  # any failure of a tracker: warn, keep the stored run
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            msg = f"warning: --log-to {name} failed ({type(exc).__name__}: {first}); run {payload.get('run_id')} is stored"
            print(msg, file=sys.stderr)
            lines.append(msg)
    return lines


def flat_metrics(payload: dict[str, Any]) -> dict[str, float]:
    """``task/metric`` -> value for every numeric result (stderr included), as trackers chart them."""
    out = {}
    for task, row in (payload.get("results") or {}).items():
        for k, v in (row or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
                out[f"{task}/{k}"] = float(v)
    return out


def flat_params(payload: dict[str, Any]) -> dict[str, str]:
    """The run settings a tracker shows as parameters (short strings)."""
    cfg = payload.get("config") or {}
    keys = ("model", "tasks", "limit", "seed", "samples", "aggregator", "temperature", "batch_size", "overrides",
            "model_args")
    out = {k: str(cfg.get(k)) for k in keys if cfg.get(k) not in (None, {}, [])}
    out["run_id"] = str(payload.get("run_id"))
    for task, spec in (cfg.get("task_specs") or {}).items():
        if isinstance(spec, dict) and spec.get("data_sha256"):
            out[f"data_sha256/{task}"] = str(spec["data_sha256"])[:16]
    return {k: v[:500] for k, v in out.items()}

"""MLflow sink: one MLflow run per evalkit run, metrics as ``task/metric``,
results.json as an artifact. Without a target it writes a local ``./mlruns``
file store, which needs no server (``mlflow ui`` reads it)."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from evalkit.report.sinks import flat_metrics, flat_params

EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"


def _key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. /:]", "_", name)  # MLflow's allowed metric/param name characters


def log_mlflow(payload: dict[str, Any], target: str | None) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    uri = target or os.environ.get("MLFLOW_TRACKING_URI") or Path("mlruns").resolve().as_uri()
    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 keeps the file store (the only backend that needs no server or
        # database) behind an opt-in; asking for a local folder is that opt-in.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    name = os.environ.get(EXPERIMENT_ENV, "evalkit")
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(name)
    cfg = payload.get("config") or {}
    run = client.create_run(exp_id, run_name=str(payload.get("run_id")),
                            tags={"evalkit.run_id": str(payload.get("run_id")), "evalkit.model": str(cfg.get("model"))})
    now = int(time.time() * 1000)
    client.log_batch(run.info.run_id,
                     metrics=[Metric(_key(k), v, now, 0) for k, v in flat_metrics(payload).items()],
                     params=[Param(_key(k), v) for k, v in flat_params(payload).items()],
                     tags=[RunTag("evalkit.tasks", ",".join(map(str, cfg.get("tasks") or [])))])
    client.log_dict(run.info.run_id, payload, "results.json")
    client.set_terminated(run.info.run_id)
    return f"run {run.info.run_id} in experiment '{name}' at {uri}"

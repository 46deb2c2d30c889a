"""Weights & Biases sink: one W&B run per evalkit run (run name = evalkit run id),
settings as its config, every metric in its summary, results.json as a file.
``WANDB_MODE=offline`` writes it under ``./wandb`` for a later ``wandb sync``."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from evalkit.report.sinks import flat_metrics, flat_params


def log_wandb(payload: dict[str, Any], target: str | None) -> str:
    import wandb

    project = target or os.environ.get("WANDB_PROJECT") or "evalkit"
    run = wandb.init(project=project, name=str(payload.get("run_id")), job_type="eval",
                     config=flat_params(payload), reinit="create_new",
                     settings=wandb.Settings(silent=True, console="off"))
    try:
        run.summary.update(flat_metrics(payload))
        # files written into run.dir are uploaded with the run (offline: at `wandb sync`)
        (Path(run.dir) / "results.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        where = run.dir
    finally:
        run.finish()
        if wandb.run is None:  # no run of the caller's is open: flush the offline files to disk now
            wandb.teardown()
    return f"{project}/{run.id} ({where})"

"""HuggingFace Hub sink: the run in lm-eval's results format (the same file as
``evalkit export --format lm-eval``), committed to a dataset repo as
``<model>/results_<run id>.json``, the layout lm-eval's hub logger uses, so the
Open LLM Leaderboard tooling reads it. ``--log-to hf-hub=ORG/REPO``."""
from __future__ import annotations

import json
import re
import time
from typing import Any

from evalkit.core.errors import ConfigError


def export_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """results.json -> lm-eval's results file (evalkit.report.export does the mapping)."""
    from evalkit.report.export import lm_eval_results

    cfg = payload.get("config") or {}
    run = {"run_id": payload.get("run_id"), "results": payload.get("results"), "config": cfg,
           "model": cfg.get("model"), "tasks": cfg.get("tasks"), "finished": time.time()}
    return lm_eval_results(run, payload.get("groups") or {})


def hub_path(payload: dict[str, Any]) -> str:
    model = str((payload.get("config") or {}).get("model") or "model")
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '__', model)}/results_{payload.get('run_id')}.json"


def log_hub(payload: dict[str, Any], target: str | None) -> str:
    if not target or target.count("/") != 1:
        raise ConfigError("--log-to hf-hub=ORG/REPO: name the dataset repo to write to")
    import os

    from huggingface_hub import HfApi

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    api.create_repo(target, repo_type="dataset", exist_ok=True, private=True)
    body = json.dumps(export_payload(payload), indent=2, ensure_ascii=False, default=str).encode("utf-8")
    info = api.upload_file(path_or_fileobj=body, path_in_repo=hub_path(payload), repo_id=target,
                           repo_type="dataset", commit_message=f"evalkit run {payload.get('run_id')}")
    return str(getattr(info, "commit_url", info))

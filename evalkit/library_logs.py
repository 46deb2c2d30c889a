"""Library chatter (transformers/torch/vLLM warnings, weight-loading bars) goes
to a log file, not to the run's output.

A user reading `evalkit run` output should see the progress line and the
results table; FutureWarnings about a transformers argument are for whoever
maintains evalkit. ``--verbose`` (or ``EVALKIT_VERBOSE=1``) leaves them on
stderr. The file is ``$EVALKIT_CACHE/logs/library.log`` (``EVALKIT_LOG_FILE``
to move it), appended to, so nothing a library said is lost.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

LIBRARIES = ("transformers", "torch", "sentence_transformers", "huggingface_hub", "datasets", "accelerate",
             "vllm", "filelock", "urllib3", "py.warnings")


def log_path() -> Path:
    from evalkit.models import cache_dir

    return Path(os.environ.get("EVALKIT_LOG_FILE") or cache_dir() / "logs" / "library.log")


def route(verbose: bool = False) -> Path | None:
    """Send library warnings and logs to the log file; returns it (None when verbose)."""
    if verbose or os.environ.get("EVALKIT_VERBOSE") == "1":
        return None
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache: better noisy than failing
    # Weight-loading progress bars (tqdm) read this when transformers is imported.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    handler = logging.FileHandler(path, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.captureWarnings(True)  # warnings.warn -> the "py.warnings" logger
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    _transformers(handler)
    return path


def _transformers(handler: logging.Handler) -> None:
    """transformers installs its own stderr handler on first use; swap it for ours."""
    try:
        from transformers.utils import logging as tlog
    except ImportError:
        return
    tlog.disable_default_handler()
    tlog.add_handler(handler)
    tlog.disable_progress_bar()

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
import sys
from pathlib import Path

LIBRARIES = ("transformers", "torch", "sentence_transformers", "huggingface_hub", "datasets", "accelerate",
             "vllm", "filelock", "urllib3", "py.warnings")


def log_path() -> Path:
    from evalkit.core.paths import cache_dir

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
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")  # else vLLM puts its own stderr handler back
    global _HANDLER
    if _HANDLER is not None and getattr(_HANDLER, "baseFilename", None) == os.path.abspath(path):
        handler = _HANDLER  # routed already (several runs in one process): keep one open file
    else:
        handler = logging.FileHandler(path, delay=True, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.captureWarnings(True)  # warnings.warn -> the "py.warnings" logger
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    _HANDLER = handler
    if "transformers" in sys.modules:
        adopt_transformers()
    return path


_HANDLER: logging.Handler | None = None


def adopt_transformers() -> None:
    """transformers installs its own stderr handler on first use; swap it for
    ours. Called by the backends that import transformers (importing it here
    would slow down every model-free run)."""
    if _HANDLER is None:
        return
    from transformers.utils import logging as tlog

    tlog.disable_default_handler()
    tlog.add_handler(_HANDLER)
    tlog.disable_progress_bar()

"""Where evalkit's own files and the benchmark data live: one resolver for each.

The package sits either in a source checkout (``<repo>/evalkit``, with
``tasks/``, ``prompts/`` and ``leaderboards/`` beside it and the data mirror at
``<repo>/../shared/data``) or in a wheel (``site-packages/evalkit``, with those
folders copied inside it by ``pyproject.toml``'s force-include).
"""
from __future__ import annotations

import os
from pathlib import Path

from evalkit.core.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = PACKAGE_DIR.parent  # the checkout root when run from source


def resource_dir(name: str) -> Path:
    """Shipped folder ``name``: inside the wheel (evalkit/<name>) or the source checkout."""
    for cand in (PACKAGE_DIR / name, REPO_DIR / name):
        if cand.is_dir():
            return cand
    raise ConfigError(f"cannot find the '{name}' folder next to {PACKAGE_DIR}; reinstall evalkit")


def default_data_dir() -> Path:
    """``$EVALKIT_DATA_DIR``, else ``shared/data`` beside the repository checkout."""
    env = os.environ.get("EVALKIT_DATA_DIR")
    if env:
        return Path(env)
    return REPO_DIR.parent / "shared" / "data"


def cache_dir() -> Path:
    """Where converted models and embedding caches live (EVALKIT_CACHE to move it)."""
    root = os.environ.get("EVALKIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evalkit"
    )
    return Path(root)

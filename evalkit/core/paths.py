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


def data_dir_setting(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The data mirror the user named: ``--data-dir``, else ``$EVALKIT_DATA_DIR``, else None.
    The runner takes None to mean the HuggingFace hub; benchmark helpers that need files
    use ``default_data_dir`` instead."""
    root = explicit or os.environ.get("EVALKIT_DATA_DIR")
    return Path(root).expanduser() if root else None


def default_data_dir() -> Path:
    """The mirror the user named, else ``shared/data`` beside the repository checkout."""
    return data_dir_setting() or REPO_DIR.parent / "shared" / "data"


def cache_dir() -> Path:
    """Where converted models and embedding caches live (EVALKIT_CACHE to move it)."""
    root = os.environ.get("EVALKIT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evalkit"
    )
    return Path(root)

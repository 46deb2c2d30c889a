"""What a run was: enough to reproduce it or to tell two runs apart."""
from __future__ import annotations

import importlib.metadata as md
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from evalkit.core.paths import REPO_DIR
from evalkit.core.store_url import mask

_PACKAGES = ("evalkit", "torch", "transformers", "vllm", "sentence-transformers", "datasets", "sympy",
             "math-verify", "numpy", "typer", "pydantic", "jinja2", "pyyaml", "lm-eval", "bm25s")
LOCK_FILE = REPO_DIR / "constraints.txt"


def package_versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def lock_drift(lock: Path = LOCK_FILE) -> dict[str, list[str]] | None:
    """Packages whose installed version differs from the lock file (name -> [locked, installed]);
    None when evalkit does not run from a checkout that has one."""
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    drift: dict[str, list[str]] = {}
    for line in lines:
        name, sep, locked = line.strip().partition("==")
        if not sep or name.startswith("#"):
            continue
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            continue  # an optional extra that is not installed here
        if installed.split("+")[0] != locked.split("+")[0]:
            drift[name] = [locked, installed]
    return drift


def git_hash() -> str | None:
    """The commit of the evalkit checkout, when run from one."""
    root = REPO_DIR
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment() -> dict[str, Any]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": package_versions(),
            "lock_drift": lock_drift(), "git": git_hash(), "argv": [mask(a) for a in sys.argv]}  # a store URL may carry a password

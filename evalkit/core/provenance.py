"""What a run was: enough to reproduce it or to tell two runs apart."""
from __future__ import annotations

import importlib.metadata as md
import platform
import subprocess
import sys
from typing import Any

from evalkit.core.paths import REPO_DIR
from evalkit.core.store_url import mask

_PACKAGES = ("evalkit", "torch", "transformers", "vllm", "sentence-transformers", "datasets", "sympy",
             "math-verify", "numpy")


def package_versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


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
            "git": git_hash(), "argv": [mask(a) for a in sys.argv]}  # a store URL may carry a password

"""What pins a task's data: the content hash of the local files actually read,
or the hub dataset and revision. Recorded per task in every result, so two
scores on "the same task" are visibly comparable, or visibly not."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalkit.core.hashing import file_sha256
from evalkit.spec.taskspec import TaskSpec


def data_files(spec: TaskSpec, root: Path | None) -> list[Path]:
    """The local files a task reads: its dataset (every file of a dataset folder) and its few-shot file."""
    if root is None:
        return []
    rels = [spec.dataset.path, spec.fewshot.path if spec.fewshot else None]
    out: list[Path] = []
    for rel in filter(None, rels):
        path = root / rel
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            out.append(path)
    return out


@lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)  # size and mtime only key the cache: a rewritten file is hashed again


def files_sha256(root: Path, files: list[Path]) -> str:
    """One hash over (relative name, content hash) of every file."""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{_file_sha256(str(p), st.st_size, st.st_mtime_ns)}\n".encode())
    return h.hexdigest()


def pinned_data(spec: TaskSpec, root: Path | None) -> dict[str, Any]:
    """The task_specs entries that pin its data: data_sha256 (local mirror) or hub + revision."""
    files = data_files(spec, root)
    if files and root is not None:
        return {"data_sha256": files_sha256(root, files), "data_files": [str(p.relative_to(root)) for p in files]}
    if spec.dataset.hub:
        return {"data_hub": spec.dataset.hub, "data_revision": spec.dataset.revision}
    return {}

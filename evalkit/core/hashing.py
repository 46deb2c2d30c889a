"""Fingerprints of things on disk, for cache keys and provenance."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def folder_fingerprint(path: str | Path, content: bool = False) -> str | None:
    """sha256 of a local folder, or None when it is not one.

    ``content=False`` hashes each file's name and size, which is cheap on
    multi-GB checkpoints and still changes when a checkpoint is replaced;
    ``content=True`` hashes every file's relative path and bytes (small
    models, where an edit that keeps sizes must still change the identity).
    """
    folder = Path(path)
    if not folder.is_dir():
        return None
    if not content:
        sizes = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())
        return hashlib.sha256(json.dumps(sizes).encode()).hexdigest()
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (graphs and data files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

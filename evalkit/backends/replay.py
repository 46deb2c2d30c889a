"""Replay: score outputs that were already saved, without any model.

Each line is ``{"task": ..., "doc_id": ..., "output": "..."}`` or ``"outputs": [...]``.
The samples files a run writes have this shape, so any run can be re-scored.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from evalkit.backends.base import BaseBackend, Progress
from evalkit.errors import BackendError, ConfigError, DataError
from evalkit.textclean import storable
from evalkit.types import Generation, Request


def _doc_id(value: Any) -> int:
    """A record index: a non-negative JSON integer (not 0.7, true, 1e999 or "3")."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def read_replay(path: Path) -> dict[tuple[str, int], list[str]]:
    table: dict[tuple[str, int], list[str]] = {}
    first_line: dict[tuple[str, int], int] = {}
    with open(path, "rb") as f:  # bytes: an invalid UTF-8 line is reported by its number
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                outs = rec["outputs"] if "outputs" in rec else [rec["output"]]
                key = (str(rec["task"]), _doc_id(rec["doc_id"]))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            except ValueError:
                raise DataError(f"{path}:{lineno}: doc_id must be a non-negative integer (the record's 0-based "
                                f"index in its data file), got {json.dumps(rec['doc_id'])}") from None
            except (KeyError, TypeError):
                raise DataError(f"{path}:{lineno}: a replay line needs task, doc_id and output or outputs") from None
            if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
                raise DataError(f"{path}:{lineno}: outputs must be a list of strings")
            outs = [storable(o) for o in outs]
            if key in table and table[key] != outs:
                raise DataError(f"{path}:{lineno}: a second, different output for task {key[0]} doc {key[1]} "
                                f"(first on line {first_line[key]}); keep one line per doc")
            table[key] = outs
            first_line.setdefault(key, lineno)
    return table


def merge_tables(into: dict[tuple[str, int], list[str]], new: dict[tuple[str, int], list[str]], source: Path) -> None:
    """Add one file's outputs; two files disagreeing on a doc is an error, not "last wins"."""
    for key, outs in new.items():
        if key in into and into[key] != outs:
            raise DataError(f"{source}: a different output for task {key[0]} doc {key[1]} than an earlier "
                            "replay file; give each doc once")
        into[key] = outs


class ReplayBackend(BaseBackend):
    cacheable = False  # the file is the cache

    def __init__(self, target: str, **_: Any):
        paths = [Path(p) for p in target.split(",") if p]
        if not paths:
            raise ConfigError("replay needs a file: --model replay:PATH.jsonl[,PATH2.jsonl]")
        self.table: dict[tuple[str, int], list[str]] = {}
        digest = hashlib.sha256()
        for p in paths:
            if p.is_dir():  # a run's output dir: every samples file in it
                files = sorted((p / "samples").glob("*.jsonl")) if (p / "samples").is_dir() else sorted(p.glob("*.jsonl"))
            elif p.is_file():
                files = [p]
            else:
                raise ConfigError(f"replay file {p} does not exist")
            for f in files:
                merge_tables(self.table, read_replay(f), f)
                digest.update(f.read_bytes())
        self.paths = [str(p) for p in paths]
        self.sha256 = digest.hexdigest()

    def identity(self) -> dict[str, Any]:
        return {"backend": "replay", "files": self.paths, "sha256": self.sha256}

    def unknown_docs(self, task: str, doc_ids: set[int]) -> list[int]:
        """Doc ids the file holds for ``task`` that its dataset does not have."""
        return sorted(d for t, d in self.table if t == task and d not in doc_ids)

    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        out = []
        for req in requests:
            outs = self.table.get((req.task, req.doc_id))
            if outs is None:
                raise BackendError(f"replay file has no output for task {req.task} doc {req.doc_id}; "
                                   "re-run that task with a model or use --limit")
            lo, hi = req.first_sample, req.first_sample + req.params.n
            if len(outs) < hi:
                raise BackendError(f"replay has {len(outs)} outputs for {req.task} doc {req.doc_id}, "
                                   f"but {hi} samples were asked for; lower --samples")
            out.append(Generation(outs[lo:hi], ["replay"] * (hi - lo)))
        if progress:
            progress(len(requests))
        return out

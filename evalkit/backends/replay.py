"""Replay: score outputs that were already saved, without any model.

Each line is ``{"task": ..., "doc_id": ..., "output": "..."}`` or ``"outputs": [...]``.
The samples files a run writes have this shape, so any run can be re-scored.

Each output is cut at the task's stop sequences exactly as a live backend cuts
a generation (``truncate_at_stop``), so a replayed output scores as it would
have live: text a model wrote past a stop sequence (an invented next question
ending "The answer is 0.") never reaches the extractor. The run's config
records that it did and how many outputs were cut (``report``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from evalkit.backends.base import BaseBackend, Progress, truncate_at_stop
from evalkit.errors import BackendError, ConfigError, DataError
from evalkit.types import Generation, Request


def read_replay(path: Path) -> dict[tuple[str, int], list[str]]:
    table: dict[tuple[str, int], list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                outs = rec["outputs"] if "outputs" in rec else [rec["output"]]
                key = (str(rec["task"]), int(rec["doc_id"]))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            except (KeyError, TypeError, ValueError):
                raise DataError(f"{path}:{lineno}: a replay line needs task, doc_id and output or outputs") from None
            if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
                raise DataError(f"{path}:{lineno}: outputs must be a list of strings")
            table[key] = outs
    return table


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
                self.table.update(read_replay(f))
                digest.update(f.read_bytes())
        self.paths = [str(p) for p in paths]
        self.sha256 = digest.hexdigest()
        self.outputs_cut = 0
        self.outputs_replayed = 0

    def identity(self) -> dict[str, Any]:
        return {"backend": "replay", "files": self.paths, "sha256": self.sha256, "cut_at_stop": True}

    def report(self) -> dict[str, Any]:
        """What replay did to the outputs, for the run's config."""
        return {"cut_at_stop": True, "outputs_replayed": self.outputs_replayed, "outputs_cut": self.outputs_cut}

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
            texts = [truncate_at_stop(t, req.params.stop) for t in outs[lo:hi]]
            reasons = ["stop" if len(t) < len(o) else "replay" for t, o in zip(texts, outs[lo:hi])]
            self.outputs_replayed += len(texts)
            self.outputs_cut += reasons.count("stop")
            out.append(Generation(texts, reasons))
        if progress:
            progress(len(requests))
        return out

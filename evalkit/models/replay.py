"""Replay: score outputs that were already saved, without any model.

Each line is ``{"task": ..., "doc_id": ..., "output": "..."}`` or ``"outputs": [...]``.
The samples files a run writes have this shape, so any run can be re-scored.

Multi-round runs (CRITIC, ToRA, PAL) send several requests per doc and sample,
each with its own prompt. Their samples carry a ``trace`` whose steps list the
raw generations of that step (``gen``) with the chain's ``sample`` index; a
loop that is fed the same outputs asks for them in the same order, so replay
answers the k-th request of a (task, doc, sample) chain with its k-th recorded
generation.

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

from evalkit.core.errors import BackendError, ConfigError, DataError
from evalkit.core.jsonl import numbered_records
from evalkit.core.textclean import storable
from evalkit.core.types import Generation, Request
from evalkit.models.base import BaseBackend, Progress, truncate_at_stop


def _doc_id(value: Any) -> int:
    """A record index: a non-negative JSON integer (not 0.7, true, 1e999 or "3")."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def read_replay(path: Path) -> dict[tuple[str, int], list[str]]:
    table: dict[tuple[str, int], list[str]] = {}
    first_line: dict[tuple[str, int], int] = {}
    for lineno, rec in numbered_records(path):
        try:
            outs = rec["outputs"] if "outputs" in rec else [rec["output"]]
            key = (str(rec["task"]), _doc_id(rec["doc_id"]))
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


def read_chains(path: Path) -> dict[tuple[str, int, int], list[str]]:
    """(task, doc_id, sample) -> the chain's generations in call order, from
    the ``trace`` of each line that has one (lines were validated by read_replay)."""
    chains: dict[tuple[str, int, int], list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            trace = rec.get("trace") or []
            if not isinstance(trace, list) or not any(isinstance(s, dict) and "gen" in s for s in trace):
                continue
            mine: dict[tuple[str, int, int], list[str]] = {}
            for step in trace:
                if isinstance(step, dict) and isinstance(step.get("gen"), list):
                    key = (str(rec["task"]), int(rec["doc_id"]), int(step.get("sample", 0)))
                    mine.setdefault(key, []).extend(str(g) for g in step["gen"])
            chains.update(mine)
    return chains
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
        self.chains: dict[tuple[str, int, int], list[str]] = {}
        self.cursor: dict[tuple[str, int, int], int] = {}
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
                self.chains.update(read_chains(f))
                digest.update(f.read_bytes())
        self.paths = [str(p) for p in paths]
        self.sha256 = digest.hexdigest()
        self.outputs_cut = 0
        self.outputs_replayed = 0

    def source_model(self) -> str | None:
        """The model that produced the outputs, when every replayed path is a
        run's output dir (its results.json names it); None otherwise."""
        models = set()
        for p in map(Path, self.paths):
            results = p / "results.json"
            try:
                models.add(json.loads(results.read_text(encoding="utf-8"))["config"]["model"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return models.pop() if len(models) == 1 else None

    def identity(self) -> dict[str, Any]:
        return {"backend": "replay", "files": self.paths, "sha256": self.sha256, "cut_at_stop": True}

    def report(self) -> dict[str, Any]:
        """What replay did to the outputs, for the run's config."""
        return {"cut_at_stop": True, "outputs_replayed": self.outputs_replayed, "outputs_cut": self.outputs_cut}

    def unknown_docs(self, task: str, doc_ids: set[int]) -> list[int]:
        """Doc ids the file holds for ``task`` that its dataset does not have."""
        return sorted(d for t, d in self.table if t == task and d not in doc_ids)

    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        out = []
        for req in requests:
            chain = (req.task, req.doc_id, req.first_sample)
            if chain in self.chains and req.params.n == 1:
                out.append(self._next_in_chain(chain))
                continue
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

    def _next_in_chain(self, chain: tuple[str, int, int]) -> Generation:
        seq, at = self.chains[chain], self.cursor.get(chain, 0)
        if at >= len(seq):
            raise BackendError(f"replay trace of {chain[0]} doc {chain[1]} sample {chain[2]} has {len(seq)} "
                               "generations, but the loop asked for more; was it recorded with other options?")
        self.cursor[chain] = at + 1
        return Generation([seq[at]], ["replay"])

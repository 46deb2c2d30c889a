"""Loading a task's records: from a local mirror when one is given, else the hub.

The local mirror (``--data-dir`` or ``EVALKIT_DATA_DIR``) has the layout of
``shared/data`` (``bbh/date_understanding.json``, ``math/test.jsonl``, ...).
Records keep their file order, and a record's ``doc_id`` is its 0-based index
there, so samples pair up across runs and across tools.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from evalkit.core.errors import DataError
from evalkit.core.jsonl import read_jsonl
from evalkit.core.paths import data_dir_setting
from evalkit.core.registry import loaders
from evalkit.core.types import Doc
from evalkit.spec.taskspec import DatasetSpec

Loader = Callable[[Path, DatasetSpec], list[dict[str, Any]]]


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The local mirror root: the --data-dir flag, else EVALKIT_DATA_DIR, else None (hub)."""
    path = data_dir_setting(explicit)
    if path is None:
        return None
    if not path.is_dir():
        raise DataError(f"data dir {path} does not exist; point --data-dir or EVALKIT_DATA_DIR at the mirror root")
    return path


def local_file(root: Path, rel: str) -> Path:
    path = root / rel
    if not path.exists():
        raise DataError(
            f"missing data file {rel} (looked in {root}); point --data-dir or EVALKIT_DATA_DIR "
            f"at a mirror root holding {rel}"
        )
    return path


def load_records(spec: DatasetSpec, root: Path | None) -> list[dict[str, Any]]:
    """All records of a dataset (those ``options.filter`` keeps), in file order."""
    return [r for _, r in _indexed_records(spec, root)]


def _indexed_records(spec: DatasetSpec, root: Path | None) -> list[tuple[int, dict[str, Any]]]:
    """(index in the file, record) pairs; ``options.filter: {field: value or [values]}``
    keeps matching records and their original index, which stays their doc_id."""
    if root is not None and spec.path:
        records = loaders.get(spec.format)(local_file(root, spec.path), spec)
    elif spec.hub:
        records = _load_hub(spec)
    else:
        raise DataError(
            f"dataset {spec.path or '?'} has no hub id; give a local mirror with --data-dir or EVALKIT_DATA_DIR"
        )
    keep = spec.options.get("filter") or {}
    return [(i, r) for i, r in enumerate(records)
            if all(r.get(k) in v if isinstance(v, list) else r.get(k) == v for k, v in keep.items())]


def load_docs(spec: DatasetSpec, root: Path | None, limit: int | float | None = None) -> list[Doc]:
    """The first ``limit`` docs: a count, or a fraction of the task (rounded up)."""
    from evalkit.spec.overrides import docs_for_limit

    pairs = _indexed_records(spec, root)
    if limit is not None:
        pairs = pairs[:docs_for_limit(len(pairs), limit)]
    return [Doc(i, r) for i, r in pairs]


def _load_hub(spec: DatasetSpec) -> list[dict[str, Any]]:
    """The real hub path for users with internet; offline it fails with advice."""
    try:
        import datasets  # heavy; only when the hub is actually used

        ds = datasets.load_dataset(spec.hub, spec.hub_name, split=spec.hub_split, revision=spec.revision)
    except Exception as exc:  # network, auth, missing config: all end the same way
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"could not load {spec.hub}{'/' + spec.hub_name if spec.hub_name else ''} from the HuggingFace hub "
            f"({first[:160]}); for offline use point --data-dir or EVALKIT_DATA_DIR at a local mirror"
            + (f" holding {spec.path}" if spec.path else "")
        ) from None
    return [dict(r) for r in ds]


@loaders.register("jsonl")
def load_jsonl(path: Path, spec: DatasetSpec | None = None) -> list[dict[str, Any]]:
    """One JSON object per line; blank lines skipped, a last line without newline accepted."""
    out = []
    for where, rec in read_jsonl(path):
        if not isinstance(rec, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        out.append(rec)
    return out


@loaders.register("json_examples")
def load_json_examples(path: Path, spec: DatasetSpec | None = None) -> list[dict[str, Any]]:
    """BIG-Bench style: ``{"examples": [{"input", "target"}, ...]}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise DataError(f"{path}: expected an object with an 'examples' list")
    return data["examples"]

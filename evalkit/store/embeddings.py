"""On-disk embedding cache: one SQLite file per model identity (its SQL lives in the store package).

A vector is stored under the sha256 of the exact text the model saw (prefix and
instruction included), in a file named for the sha256 of the model's identity,
so a different model, revision or sequence length can never be served another's
vectors. SQLite commits each ``put`` as one transaction: a run killed midway
leaves whole batches behind and never a torn vector, and the next run resumes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from evalkit.core.errors import StoreError
from evalkit.core.registry import storages

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (text_sha256 TEXT PRIMARY KEY, vec BLOB NOT NULL);
"""
_LOOKUP_BATCH = 500  # below SQLite's default limit on bound parameters


@storages.register("embeddings")
class EmbeddingCache:
    """float32 vectors of one model, keyed by ``text_key``."""

    def __init__(self, cache_dir: str | Path, model_identity: str):
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"emb-{hashlib.sha256(model_identity.encode()).hexdigest()[:24]}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60)
        with self._db:
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('model', ?)", (model_identity,))
        stored = self._db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()[0]
        if stored != model_identity:
            raise StoreError(f"{self.path} holds vectors of {stored!r}, not {model_identity!r}")

    def get(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = list(keys)
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), _LOOKUP_BATCH):
            chunk = keys[i : i + _LOOKUP_BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT text_sha256, vec FROM vectors WHERE text_sha256 IN ({marks})", chunk)
            found.update((k, np.frombuffer(blob, dtype=np.float32)) for k, blob in rows)
        return found

    def put(self, keys: list[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._db:  # one transaction: all of these rows or none
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)", ((k, v.tobytes()) for k, v in zip(keys, vectors))
            )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self._db.close()

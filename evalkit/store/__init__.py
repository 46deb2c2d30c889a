"""The SQLite store: every run, its task metrics, every sample, and the
generation cache.

Write-ahead logging lets one process write while others read (the site
builder, a second run); ``busy_timeout`` makes concurrent writers wait instead
of failing with "database is locked". A run row is created as ``running`` and
flipped to ``complete`` in the same transaction that inserts its metrics and
samples, so a crash never leaves a half-written run marked complete.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from evalkit.core.errors import StoreError
from evalkit.core.types import SampleRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    tasks TEXT NOT NULL,          -- JSON list of what the user asked for
    status TEXT NOT NULL,         -- running | complete | interrupted | failed
    pid INTEGER,
    started REAL NOT NULL,
    finished REAL,
    config TEXT NOT NULL,         -- JSON provenance block
    results TEXT                  -- JSON results block (results.json's "results")
);
CREATE TABLE IF NOT EXISTS task_metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    stderr REAL,
    n INTEGER,
    PRIMARY KEY (run_id, task, metric)
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    score REAL,
    record TEXT NOT NULL,         -- JSON SampleRecord
    PRIMARY KEY (run_id, task, doc_id)
);
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,         -- sha256(model identity, prompt, params, sample index)
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created REAL NOT NULL
);
"""


class Store:
    """One SQLite file; safe to share between processes."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.executescript(SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}; pass another --store path") from None

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write store {self.path}: {exc}") from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- runs -------------------------------------------------------------
    def start_run(self, run_id: str, model: str, tasks: list[str], config: dict[str, Any]) -> None:
        self.mark_dead_runs()
        with self.transaction() as c:
            c.execute(
                "INSERT INTO runs (run_id, model, tasks, status, pid, started, config) VALUES (?,?,?,?,?,?,?)",
                (run_id, model, json.dumps(tasks), "running", os.getpid(), time.time(), json.dumps(config)),
            )

    def finish_run(
        self, run_id: str, results: dict[str, Any], metrics: list[tuple[str, str, float, float, int]],
        samples: list[SampleRecord], config: dict[str, Any],
    ) -> None:
        """Metrics, samples and the ``complete`` status land together or not at all."""
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO task_metrics (run_id, task, metric, value, stderr, n) VALUES (?,?,?,?,?,?)",
                [(run_id, t, m, _num(v), _num(se), n) for t, m, v, se, n in metrics],
            )
            c.executemany(
                "INSERT OR REPLACE INTO samples (run_id, task, doc_id, score, record) VALUES (?,?,?,?,?)",
                [(run_id, s.task, s.doc_id, s.score, json.dumps(s.to_json(), ensure_ascii=False, default=str))
                 for s in samples],
            )
            c.execute(
                "UPDATE runs SET status='complete', finished=?, results=?, config=? WHERE run_id=?",
                (time.time(), json.dumps(results), json.dumps(config), run_id),
            )

    def set_status(self, run_id: str, status: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET status=?, finished=? WHERE run_id=? AND status='running'",
                      (status, time.time(), run_id))

    def mark_dead_runs(self) -> None:
        """Runs left ``running`` by a process that no longer exists were interrupted."""
        rows = self.conn.execute("SELECT run_id, pid FROM runs WHERE status='running'").fetchall()
        dead = [r for r, pid in rows if not _alive(pid)]
        if dead:
            with self.transaction() as c:
                c.executemany("UPDATE runs SET status='interrupted' WHERE run_id=? AND status='running'",
                              [(r,) for r in dead])

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT run_id, model, tasks, status, started, finished FROM runs"
        args: tuple[Any, ...] = ()
        if status:
            q, args = q + " WHERE status=?", (status,)
        rows = self.conn.execute(q + " ORDER BY started", args).fetchall()
        return [dict(zip(("run_id", "model", "tasks", "status", "started", "finished"), r)) | {"tasks": json.loads(r[2])}
                for r in rows]

    def run(self, run_id: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT run_id, model, tasks, status, started, finished, config, results FROM runs WHERE run_id=?",
            (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run '{run_id}' in {self.path}; `evalkit runs` lists them")
        keys = ("run_id", "model", "tasks", "status", "started", "finished", "config", "results")
        d = dict(zip(keys, row))
        for k in ("tasks", "config", "results"):
            d[k] = json.loads(d[k]) if d[k] else None
        return d

    def samples(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]:
        q, args = "SELECT record FROM samples WHERE run_id=?", [run_id]
        if task:
            q, args = q + " AND task=?", args + [task]
        return [json.loads(r[0]) for r in self.conn.execute(q + " ORDER BY task, doc_id", args)]

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT task, metric, value, stderr, n FROM task_metrics WHERE run_id=? ORDER BY task, metric", (run_id,))
        return [dict(zip(("task", "metric", "value", "stderr", "n"), r)) for r in rows]


def _num(x: float | None) -> float | None:
    return None if x is None or x != x else float(x)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

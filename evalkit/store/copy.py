"""`evalkit store copy SRC DST`: runs, samples, metrics and the generation cache,
SQLite to PostgreSQL or back.

Each run lands in one transaction with its metrics and samples, so DST never
holds half a run; the cache goes over in key order, one transaction per
batch, each row inserted only if DST lacks it. Copying again is therefore a
no-op, and a copy killed at any instant (kill -9 included) resumes by running
the same command: finished runs and batches are skipped, the rest is copied.
Runs still ``running`` in SRC are left out (copy again once they finish).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.core.errors import StoreError
from evalkit.store.core import Store
from evalkit.store.engines import Tx

_RUN = ("run_id", "model", "tasks", "status", "pid", "host", "started", "finished", "config", "results", "layout")


@dataclass(frozen=True)
class CopyReport:
    src: str
    dst: str
    runs_copied: int
    runs_present: int  # already in DST with the same status
    runs_running: int  # left out: still running in SRC
    generations_seen: int
    generations_new: int

    def summary(self) -> str:
        return (f"copied {self.runs_copied} runs ({self.runs_present} already there, {self.runs_running} still "
                f"running and left out) and {self.generations_new} new of {self.generations_seen} cached generations "
                f"from {self.src} to {self.dst}")


def _raw_runs(store: Store) -> list[tuple[Any, ...]]:
    cols = ", ".join(c if c not in ("host", "layout") or store.version >= 2 else "NULL" for c in _RUN)
    return store.engine.query(f"SELECT {cols} FROM runs ORDER BY started, run_id")


def _copy_run(src: Store, dst: Store, row: tuple[Any, ...]) -> None:
    run_id = row[0]
    metrics = src.engine.query("SELECT run_id, task, metric, value, stderr, n FROM task_metrics WHERE run_id=?",
                               (run_id,))
    samples = src.engine.query("SELECT run_id, task, doc_id, score, record FROM samples WHERE run_id=?", (run_id,))
    sets = ", ".join(f"{c}=excluded.{c}" for c in _RUN[1:])

    def write(tx: Tx) -> None:
        tx.execute(f"INSERT INTO runs ({', '.join(_RUN)}) VALUES ({','.join('?' * len(_RUN))}) "
                   f"ON CONFLICT (run_id) DO UPDATE SET {sets}", row)
        tx.executemany("INSERT INTO task_metrics (run_id, task, metric, value, stderr, n) VALUES (?,?,?,?,?,?) "
                       "ON CONFLICT (run_id, task, metric) DO UPDATE SET value=excluded.value, "
                       "stderr=excluded.stderr, n=excluded.n", metrics)
        tx.executemany("INSERT INTO samples (run_id, task, doc_id, score, record) VALUES (?,?,?,?,?) "
                       "ON CONFLICT (run_id, task, doc_id) DO UPDATE SET score=excluded.score, "
                       "record=excluded.record", samples)

    dst.engine.write(write)


def _copy_generations(src: Store, dst: Store, batch: int) -> tuple[int, int]:
    seen = new = 0
    last = ""
    while True:
        rows = src.engine.query("SELECT key, model, text, finish_reason, prompt_tokens, completion_tokens, created "
                                "FROM generations WHERE key > ? ORDER BY key LIMIT ?", (last, batch))
        if not rows:
            return seen, new
        have = set(dst.get_generations([r[0] for r in rows]))
        fresh = [r for r in rows if r[0] not in have]
        if fresh:
            dst.engine.write(lambda tx: tx.executemany(
                "INSERT INTO generations (key, model, text, finish_reason, prompt_tokens, completion_tokens, created) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING", fresh))
        seen, new, last = seen + len(rows), new + len(fresh), rows[-1][0]


def _same(a: Store, b: Store) -> bool:
    if a.path is not None and b.path is not None:
        return a.path.resolve() == b.path.resolve()
    return a.where == b.where


def copy_store(src_target: str, dst_target: str, batch: int = 2000) -> CopyReport:
    if batch < 1:
        raise StoreError(f"--batch must be at least 1, got {batch}")
    src = Store(src_target, readonly=True)
    try:
        dst = Store(dst_target)
    except BaseException:
        src.close()
        raise
    try:
        if _same(src, dst):
            raise StoreError(f"SRC and DST are the same store ({src.where}); pass two different stores")
        there = {r: s for r, s in dst.engine.query("SELECT run_id, status FROM runs")}
        copied = present = running = 0
        for row in _raw_runs(src):
            run_id, status = row[0], row[3]
            if status == "running":
                running += 1
            elif there.get(run_id) == status:
                present += 1
            else:
                _copy_run(src, dst, row)
                copied += 1
        seen, new = _copy_generations(src, dst, batch)
        return CopyReport(src.where, dst.where, copied, present, running, seen, new)
    finally:
        src.close()
        dst.close()

"""The store: every run, its task metrics, every sample, and the generation cache.

A run row is created as ``running`` and flipped to ``complete`` in the same
transaction that inserts its metrics and samples, so a crash never leaves a
half-written run marked complete. A writer (``Store(target)``) creates and
migrates the schema; a reader (``Store(target, readonly=True)``) opens an
existing store read-only and never creates a file, a folder or a table.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterable

from evalkit.core.errors import StoreError
from evalkit.core.store_url import is_postgres
from evalkit.core.types import SampleRecord
from evalkit.store.engines import Engine, Tx, open_engine
from evalkit.store.schema import SCHEMA_VERSION, check_not_newer, migrate, stored_version

_BATCH = 500  # keys per IN (...) lookup: below SQLite's bound-parameter limit
RUN_COLS = ("run_id", "model", "tasks", "status", "started", "finished", "config", "results", "layout")
GenRow = tuple[str, str, int, int]  # text, finish_reason, prompt_tokens, completion_tokens


class Store:
    """One SQLite file or one PostgreSQL database; safe to share between processes."""

    def __init__(self, target: str | os.PathLike[str], readonly: bool = False):
        self.target = str(target)
        if not readonly and not is_postgres(self.target) and not Path(self.target).exists():
            _create_sqlite(Path(self.target))
        self.engine: Engine = open_engine(target, readonly)
        self.where = self.engine.where
        self.path = Path(self.target) if not is_postgres(self.target) else None
        try:
            if readonly:
                self.version = stored_version(self.engine)
                check_not_newer(self.engine, self.version)
                if self.version == 0:
                    raise StoreError(f"{self.where} is an empty database, not an evalkit store; "
                                     "pass the --store that `evalkit run` wrote")
            else:
                migrate(self.engine)
                self.engine.tune()
                self.version = SCHEMA_VERSION
        except BaseException:
            self.engine.close()
            raise
        self._layout = "layout" if self.version >= 2 else "NULL"

    @property
    def conn(self) -> Any:
        """The raw connection (tests poke at it; code goes through the methods)."""
        return self.engine.conn  # type: ignore[attr-defined]

    @property
    def kind(self) -> str:
        return self.engine.kind

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing runs -------------------------------------------------------
    def start_run(self, run_id: str, model: str, tasks: list[str], config: dict[str, Any],
                  layout: dict[str, Any] | None = None) -> None:
        self.mark_dead_runs()
        row = (run_id, model, json.dumps(tasks), "running", os.getpid(), socket.gethostname(), time.time(),
               json.dumps(config), json.dumps(layout or {}))
        self.engine.write(lambda tx: tx.execute(
            "INSERT INTO runs (run_id, model, tasks, status, pid, host, started, config, layout) "
            "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id) DO NOTHING", row))

    def finish_run(
        self, run_id: str, results: dict[str, Any], metrics: list[tuple[str, str, float, float, int]],
        samples: list[SampleRecord], config: dict[str, Any],
    ) -> None:
        """Metrics, samples and the ``complete`` status land together or not at all."""
        metric_rows = [(run_id, t, m, _num(v), _num(se), n) for t, m, v, se, n in metrics]
        sample_rows = [(run_id, s.task, s.doc_id, s.score, json.dumps(s.to_json(), ensure_ascii=False, default=str))
                       for s in samples]
        done = (time.time(), json.dumps(results), json.dumps(config), run_id)

        def write(tx: Tx) -> None:
            tx.executemany("INSERT INTO task_metrics (run_id, task, metric, value, stderr, n) VALUES (?,?,?,?,?,?) "
                           "ON CONFLICT (run_id, task, metric) DO UPDATE SET value=excluded.value, "
                           "stderr=excluded.stderr, n=excluded.n", metric_rows)
            tx.executemany("INSERT INTO samples (run_id, task, doc_id, score, record) VALUES (?,?,?,?,?) "
                           "ON CONFLICT (run_id, task, doc_id) DO UPDATE SET score=excluded.score, "
                           "record=excluded.record", sample_rows)
            tx.execute("UPDATE runs SET status='complete', finished=?, results=?, config=? WHERE run_id=?", done)

        self.engine.write(write)

    def set_status(self, run_id: str, status: str) -> None:
        self.engine.write(lambda tx: tx.execute(
            "UPDATE runs SET status=?, finished=? WHERE run_id=? AND status='running'", (status, time.time(), run_id)))

    def mark_dead_runs(self) -> None:
        """Runs left ``running`` by a process of this host that no longer exists were interrupted
        (a runner on another machine is judged by that machine)."""
        here = socket.gethostname()
        rows = self.engine.query("SELECT run_id, pid, host FROM runs WHERE status='running'")
        dead = [(r,) for r, pid, host in rows if host in (None, here) and not _alive(pid)]
        if dead:
            self.engine.write(lambda tx: tx.executemany(
                "UPDATE runs SET status='interrupted' WHERE run_id=? AND status='running'", dead))

    # -- reading runs -------------------------------------------------------
    def _run_rows(self, where: str = "", args: tuple[Any, ...] = (), order: str = "started") -> list[dict[str, Any]]:
        rows = self.engine.query(
            f"SELECT run_id, model, tasks, status, started, finished, config, results, {self._layout} FROM runs"
            f"{where} ORDER BY {order}", args)
        out = []
        for row in rows:
            d = dict(zip(RUN_COLS, row))
            for k in ("tasks", "config", "results", "layout"):
                d[k] = _json(d[k], f"run {d['run_id']}: column {k}", self.where)
            out.append(d)
        return out

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        where, args = (" WHERE status=?", (status,)) if status else ("", ())
        return [{k: r[k] for k in RUN_COLS[:6]} | {"tasks": r["tasks"] or []} for r in self._run_rows(where, args)]

    def run_records(self, status: str | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        """Whole run rows (config, results and layout parsed), oldest first unless asked."""
        where, args = (" WHERE status=?", (status,)) if status else ("", ())
        order = "started DESC" if newest_first else "started, finished"
        return self._run_rows(where, args, order)

    def run(self, run_id: str) -> dict[str, Any]:
        rows = self._run_rows(" WHERE run_id=?", (run_id,))
        if not rows:
            raise StoreError(f"no run '{run_id}' in {self.where}; `evalkit runs` lists them")
        return rows[0]

    def has_run(self, run_id: str) -> bool:
        return bool(self.engine.query("SELECT 1 FROM runs WHERE run_id=?", (run_id,)))

    def run_ids(self) -> list[str]:
        return [r for (r,) in self.engine.query("SELECT run_id FROM runs ORDER BY started")]

    def latest_complete(self, model: str) -> str | None:
        rows = self.engine.query("SELECT run_id FROM runs WHERE model=? AND status='complete' "
                                 "ORDER BY started DESC LIMIT 1", (model,))
        return rows[0][0] if rows else None

    def complete_models(self) -> list[str]:
        return [m for (m,) in self.engine.query("SELECT DISTINCT model FROM runs WHERE status='complete' ORDER BY model")]

    def samples(self, run_id: str, task: str | None = None) -> list[dict[str, Any]]:
        q, args = "SELECT doc_id, record FROM samples WHERE run_id=?", [run_id]
        if task:
            q, args = q + " AND task=?", args + [task]
        return [_json(rec, f"run {run_id}: sample {doc}", self.where)
                for doc, rec in self.engine.query(q + " ORDER BY task, doc_id", args)]

    def sample_scores(self, run_id: str) -> list[tuple[str, int, float | None]]:
        return [(t, int(d), s) for t, d, s in self.engine.query(
            "SELECT task, doc_id, score FROM samples WHERE run_id=? ORDER BY task, doc_id", (run_id,))]

    def sample_tasks(self, run_id: str) -> list[str]:
        return [t for (t,) in self.engine.query(
            "SELECT DISTINCT task FROM samples WHERE run_id=? ORDER BY task", (run_id,))]

    def task_scores(self, task: str, run_ids: list[str]) -> list[tuple[str, int, float | None]]:
        """(run_id, doc_id, score) of the samples of ``task`` in the given runs."""
        out: list[tuple[str, int, float | None]] = []
        for i in range(0, len(run_ids), _BATCH):
            chunk = run_ids[i:i + _BATCH]
            out.extend((r, int(d), s) for r, d, s in self.engine.query(
                f"SELECT run_id, doc_id, score FROM samples WHERE task=? AND run_id IN ({','.join('?' * len(chunk))})",
                [task, *chunk]))
        return out

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.engine.query(
            "SELECT task, metric, value, stderr, n FROM task_metrics WHERE run_id=? ORDER BY task, metric", (run_id,))
        return [dict(zip(("task", "metric", "value", "stderr", "n"), r)) for r in rows]

    # -- the generation cache -----------------------------------------------
    def get_generations(self, keys: list[str]) -> dict[str, GenRow]:
        found: dict[str, GenRow] = {}
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i:i + _BATCH]
            for k, text, fr, pt, ct in self.engine.query(
                    "SELECT key, text, finish_reason, prompt_tokens, completion_tokens FROM generations "
                    f"WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                found[k] = (text, fr or "", pt or 0, ct or 0)
        return found

    def put_generations(self, model: str, rows: Iterable[tuple[str, str, str, int, int]]) -> dict[str, GenRow]:
        """Insert (key, text, finish_reason, prompt_tokens, completion_tokens) rows; the first row
        stored under a key wins, and the stored rows are returned, so two runners that computed
        the same generation at once both go on with the one row the cache keeps."""
        now = time.time()
        rows = sorted(rows)  # one lock order for every writer: no deadlock between two batches
        keys = [r[0] for r in rows]

        def write(tx: Tx) -> None:
            tx.executemany("INSERT INTO generations (key, model, text, finish_reason, prompt_tokens, "
                           "completion_tokens, created) VALUES (?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING",
                           [(k, model, t, fr, pt, ct, now) for k, t, fr, pt, ct in rows])

        self.engine.write(write)
        return self.get_generations(keys)


def _create_sqlite(path: Path) -> None:
    """Make a new SQLite store appear with its schema in place: built beside it, then linked
    into place, so a reader never finds an empty file where a store is being created."""
    from evalkit.store.engines import SQLiteEngine

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create store {path}: {exc.strerror or exc}; pass another --store path") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        engine = SQLiteEngine(tmp)
        try:
            engine.tune()
            migrate(engine)
        finally:
            engine.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first; its schema is as good as ours
        except OSError:
            os.replace(tmp, path) if not path.exists() else None  # a filesystem without hard links
    finally:
        for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)


def _json(text: str | None, what: str, where: str) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise StoreError(f"store {where}: {what} is not valid JSON ({getattr(exc, 'msg', exc)}); "
                         "the row is damaged: restore the store from a copy or delete that run") from None


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

"""The two SQL engines behind a store, with one small interface.

Both take SQL written once with ``?`` placeholders and the upsert syntax both
engines share (``ON CONFLICT ... DO UPDATE/NOTHING``). A write is a function
run inside one transaction: all of its rows land or none do. On PostgreSQL a
lost connection (server restart, failover) is retried with a fresh connection
until ``EVALKIT_STORE_RETRY_S`` runs out; every write is idempotent (upserts),
so repeating one whose commit was acknowledged late changes nothing.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence, TypeVar
from urllib.parse import quote

from evalkit.core.errors import StoreError
from evalkit.core.store_url import mask

T = TypeVar("T")
log = logging.getLogger("evalkit.store")
Rows = list[tuple[Any, ...]]


class Tx(Protocol):
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Engine(Protocol):
    kind: str  # "sqlite" | "postgresql"
    where: str  # masked, for messages
    readonly: bool

    def query(self, sql: str, args: Sequence[Any] = ()) -> Rows: ...
    def write(self, fn: Callable[[Tx], T]) -> T: ...
    def tables(self) -> set[str]: ...
    def columns(self, table: str) -> set[str]: ...
    def tune(self) -> None: ...
    def close(self) -> None: ...


def _disk_hint(msg: str) -> str:
    return "; free space under the store (or pass another --store)" if "full" in msg else ""


class SQLiteTx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        return self.conn.execute(sql, tuple(args)).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


class SQLiteEngine:
    """One SQLite file. WAL lets one process write while others read; ``busy_timeout``
    makes concurrent writers wait instead of failing with "database is locked"."""

    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], readonly: bool = False):
        self.path = Path(path)
        self.where = str(self.path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise StoreError(f"no store at {self.path}; pass --store PATH (or set EVALKIT_STORE) "
                                     "to a store that `evalkit run` wrote")
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                self.conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 60000")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}; pass another --store path") from None

    def tune(self) -> None:
        """Writer settings, applied once the file is known to be an evalkit store (WAL is
        written into the file's header, so another application's file is left untouched)."""
        self.query("PRAGMA journal_mode = WAL")
        self.query("PRAGMA synchronous = NORMAL")

    def query(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        try:
            return self.conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read store {self.path}: {exc}{_disk_hint(str(exc))}") from None

    def write(self, fn: Callable[[Tx], T]) -> T:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write store {self.path}: {exc}{_disk_hint(str(exc))}") from None
        try:
            out = fn(SQLiteTx(self.conn))
            self.conn.execute("COMMIT")
            return out
        except BaseException as exc:
            # SQLite may already have rolled back (SQLITE_FULL does); a second ROLLBACK would
            # raise "no transaction is active" and hide the real reason.
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.DatabaseError:
                    pass
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot write store {self.path}: {exc}{_disk_hint(str(exc))}") from None
            raise

    def tables(self) -> set[str]:
        return {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type='table'")}

    def columns(self, table: str) -> set[str]:
        return {r[1] for r in self.query(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        self.conn.close()


def _pg_sql(sql: str) -> str:
    return sql.replace("?", "%s")


class PGTx:
    def __init__(self, conn: Any):
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        with self.conn.cursor() as cur:
            cur.execute(_pg_sql(sql), tuple(args))
            return cur.fetchall() if cur.description is not None else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("a postgresql:// store needs psycopg 3: pip install 'psycopg[binary]==3.3.9' "
                         "(or pip install 'evalkit[postgres]')") from None
    return psycopg


class PostgresEngine:
    """One PostgreSQL database shared by many runners on many machines."""

    kind = "postgresql"

    def __init__(self, url: str, readonly: bool = False):
        self.url = url
        self.where = mask(url)
        self.readonly = readonly
        self.retry_s = float(os.environ.get("EVALKIT_STORE_RETRY_S", "120"))
        self.pg = _psycopg()
        self.conn = self._connect(first=True)

    def _connect(self, first: bool = False) -> Any:
        kw: dict[str, Any] = {"autocommit": True, "connect_timeout": 10, "application_name": "evalkit"}
        if self.readonly:  # the server refuses any write from a reader
            kw["options"] = "-c default_transaction_read_only=on"
        try:
            return self.pg.connect(self.url, **kw)
        except self.pg.Error as exc:
            if not first:
                raise
            raise StoreError(f"cannot connect to store {self.where}: {mask(_first_line(exc))}; "
                             "check the URL, that the server runs, and PGPASSWORD/.pgpass") from None

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        deadline, pause = time.monotonic() + self.retry_s, 0.5
        while True:
            try:
                return attempt()
            except (self.pg.OperationalError, self.pg.errors.TransactionRollback,
                    self.pg.InterfaceError) as exc:
                if time.monotonic() + pause > deadline:
                    raise StoreError(f"lost the store {self.where} while trying to {what}: {mask(_first_line(exc))}; "
                                     f"nothing was half-written: rerun the same command to resume") from None
                if pause == 0.5:
                    log.warning("lost the store %s (%s); retrying for up to %.0fs", self.where,
                                mask(_first_line(exc)), self.retry_s)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
                if self.conn.closed or self.conn.broken:
                    try:
                        self.conn = self._connect()
                    except self.pg.Error:
                        pass  # still down: the next attempt fails and waits again
            except self.pg.Error as exc:
                raise StoreError(f"cannot {what} store {self.where}: {mask(_first_line(exc))}") from None

    def query(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        return self._retrying("read", lambda: PGTx(self.conn).execute(sql, args))

    def write(self, fn: Callable[[Tx], T]) -> T:
        def attempt() -> T:
            with self.conn.transaction():
                return fn(PGTx(self.conn))
        return self._retrying("write", attempt)

    def tune(self) -> None:
        pass

    def tables(self) -> set[str]:
        return {r[0] for r in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def columns(self, table: str) -> set[str]:
        return {r[0] for r in self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ?", (table,))}

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a connection the server already dropped
            pass


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def open_engine(target: str | os.PathLike[str], readonly: bool = False) -> Engine:
    from evalkit.core.store_url import is_postgres

    if is_postgres(target):
        return PostgresEngine(str(target), readonly)
    return SQLiteEngine(target, readonly)

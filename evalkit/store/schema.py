"""One schema for both engines, versioned, with the steps that bring an older store up to date.

``evalkit_meta.schema_version`` says which version a store holds. A store
written before versioning (a ``runs`` table, no ``evalkit_meta``) is version 1.
A writer applies every missing step in one transaction (serialized by an
advisory lock on PostgreSQL, by ``BEGIN IMMEDIATE`` on SQLite); a reader never
writes and reads an older version as it is. A store newer than this code is
refused: an older evalkit must not write rows a newer one cannot trust.
"""
from __future__ import annotations

from evalkit.core.errors import StoreError
from evalkit.store.engines import Engine, Tx

SCHEMA_VERSION = 2
_LOCK_ID = 727_406_015  # pg_advisory_xact_lock key for migrations

_V1 = [
    """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    tasks TEXT NOT NULL,          -- JSON list of what the user asked for
    status TEXT NOT NULL,         -- running | complete | interrupted | failed
    pid INTEGER,
    started {real} NOT NULL,
    finished {real},
    config TEXT NOT NULL,         -- JSON provenance block
    results TEXT                  -- JSON results block (results.json's "results")
)""",
    """CREATE TABLE IF NOT EXISTS task_metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    metric TEXT NOT NULL,
    value {real},
    stderr {real},
    n INTEGER,
    PRIMARY KEY (run_id, task, metric)
)""",
    """CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    score {real},
    record TEXT NOT NULL,         -- JSON SampleRecord
    PRIMARY KEY (run_id, task, doc_id)
)""",
    """CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,         -- sha256(model identity, prompt, params, sample index)
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created {real} NOT NULL
)""",
]

# Version 2: the run's own groups, main metrics and labels (so readers never rebuild them
# from today's YAML), and the host that runs it (a pid means nothing on another machine).
_V2 = [
    "CREATE TABLE IF NOT EXISTS evalkit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "ALTER TABLE runs ADD COLUMN host TEXT",
    "ALTER TABLE runs ADD COLUMN layout TEXT",  # JSON: groups, group_of, main_metric, display
    "CREATE INDEX IF NOT EXISTS samples_task ON samples (task)",
]

STEPS: dict[int, list[str]] = {1: _V1, 2: _V2}
TABLES = {"runs", "task_metrics", "samples", "generations"}


def _ddl(engine: Engine, sql: str) -> str:
    # SQLite's REAL is 8 bytes; PostgreSQL's is 4, which would round timestamps and scores.
    return sql.format(real="DOUBLE PRECISION" if engine.kind == "postgresql" else "REAL")


def stored_version(engine: Engine) -> int:
    """0 for an empty database; raises for one that some other application owns."""
    tables = engine.tables()
    if "evalkit_meta" in tables:
        rows = engine.query("SELECT value FROM evalkit_meta WHERE key='schema_version'")
        try:
            return int(rows[0][0]) if rows else 1
        except ValueError:
            raise StoreError(f"store {engine.where}: schema_version {rows[0][0]!r} is not a number; "
                             "the store is damaged") from None
    if "runs" in tables:
        if not {"run_id", "model", "config", "results"} <= engine.columns("runs"):
            raise _foreign(engine, tables)
        return 1
    if tables:
        raise _foreign(engine, tables)
    return 0


def _foreign(engine: Engine, tables: set[str]) -> StoreError:
    shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
    return StoreError(f"{engine.where} is not an evalkit store (it holds tables {shown} of another application); "
                      "pass another --store")


def check_not_newer(engine: Engine, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(f"store {engine.where} has schema version {version}, newer than this evalkit's "
                         f"{SCHEMA_VERSION}; upgrade evalkit (pip install -U evalkit) to use it")


def migrate(engine: Engine) -> int:
    """Bring the store to SCHEMA_VERSION; returns the version it had before."""
    def step(tx: Tx) -> int:
        if engine.kind == "postgresql":
            tx.execute(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
        before = stored_version(engine)  # re-read under the lock: another runner may have migrated
        check_not_newer(engine, before)
        for version in range(before + 1, SCHEMA_VERSION + 1):
            for sql in STEPS[version]:
                tx.execute(_ddl(engine, sql))
        if before < SCHEMA_VERSION:
            tx.execute("INSERT INTO evalkit_meta (key, value) VALUES ('schema_version', ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        return before

    version = stored_version(engine)
    check_not_newer(engine, version)
    if version == SCHEMA_VERSION:
        return version
    return engine.write(step)

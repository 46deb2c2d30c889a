"""A SQLite store written before the schema was versioned: readers read it as it is,
writers migrate it in place, and a store newer than the code is refused."""
from __future__ import annotations

import sqlite3

from evalkit.store import SCHEMA_VERSION, Store, open_reader
from evalkit.store.schema import _V1


def _v1_store(path) -> None:
    with sqlite3.connect(path) as c:
        for sql in _V1:
            c.execute(sql.format(real="REAL"))
        c.execute("INSERT INTO runs (run_id, model, tasks, status, started, config, results) VALUES "
                  "('old', 'm', '[\"bbh_navigate\"]', 'complete', 1.0, '{}', '{\"bbh_navigate\": {\"exact_match\": 0.5}}')")
        c.execute("INSERT INTO samples VALUES ('old', 'bbh_navigate', 0, 1.0, '{\"doc_id\": 0, \"score\": 1.0}')")


def test_v1_read_as_is_then_migrated(cli, tmp_path):
    path = tmp_path / "v1.db"
    _v1_store(path)
    before = path.read_bytes()
    listed = cli("runs", "--store", path)
    assert listed.code == 0 and "old" in listed.out
    assert path.read_bytes() == before  # a reader changed nothing
    r = open_reader(path)
    assert r.version == 1 and r.run("old")["layout"] is None and r.sample_scores("old") == [("bbh_navigate", 0, 1.0)]
    r.close()
    res = cli("store", "migrate", "--store", path)
    assert res.code == 0 and f"schema version {SCHEMA_VERSION}" in res.out
    st = Store(path)
    assert st.version == SCHEMA_VERSION and st.run("old")["results"] == {"bbh_navigate": {"exact_match": 0.5}}
    st.start_run("new", "m", ["bbh_navigate"], {}, {"main_metric": {"bbh_navigate": "exact_match"}})
    assert st.run("new")["layout"] == {"main_metric": {"bbh_navigate": "exact_match"}}
    st.close()


def test_newer_store_is_refused_with_one_line(cli, tmp_path):
    path = tmp_path / "s.db"
    Store(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE evalkit_meta SET value='3' WHERE key='schema_version'")
    for args in (("runs",), ("store", "migrate"), ("leaderboard", "show", "reasoning")):
        res = cli(*args, "--store", path)
        assert res.code != 0 and res.err.startswith("error: ") and res.err.strip().count("\n") == 0
        assert "schema version 3, newer than this evalkit's 2" in res.err

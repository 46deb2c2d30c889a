"""Bad store files: one `error:` line, a non-zero exit, nothing created or changed."""
from __future__ import annotations

import sqlite3

import pytest

from evalkit.core.errors import StoreError
from evalkit.core.types import SampleRecord
from evalkit.store import Store


def _one_line(res) -> str:
    assert res.code != 0, res
    assert "Traceback" not in res.err and res.err.startswith("error: ")
    assert res.err.strip().count("\n") == 0, res.err
    return res.err


def _stored_run(path) -> str:
    st = Store(path)
    st.start_run("r1", "m", ["bbh_navigate"], {"limit": 1})
    st.finish_run("r1", {"bbh_navigate": {"exact_match": 1.0, "n": 1}}, [("bbh_navigate", "exact_match", 1.0, 0.0, 1)],
                  [SampleRecord("bbh_navigate", 0, "p", ["o"], "x", "x", 1.0, {"exact_match": 1.0})], {"limit": 1})
    st.close()
    return "r1"


def test_another_applications_sqlite_file_is_refused_untouched(cli, tmp_path, data_dir):
    other = tmp_path / "places.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
        c.execute("INSERT INTO moz_places (url) VALUES ('https://example.org')")
    before = other.read_bytes()
    for args in (["runs"], ["run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "1",
                            "--data-dir", data_dir], ["site", "build", "--out", tmp_path / "site"]):
        err = _one_line(cli(*args, "--store", other))
        assert "not an evalkit store" in err and "moz_places" in err
    assert other.read_bytes() == before  # no table added, no WAL switched on
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    assert "not a database" in _one_line(cli("runs", "--store", junk))


def test_a_row_with_invalid_json_is_one_line(cli, tmp_path):
    store = tmp_path / "s.db"
    _stored_run(store)
    with sqlite3.connect(store) as c:
        c.execute("UPDATE runs SET results='{\"bbh_navigate\": {' WHERE run_id='r1'")
    for args in (["runs"], ["runs", "--show", "r1"], ["export", "r1", "--output", tmp_path / "x.json"],
                 ["site", "build", "--out", tmp_path / "site"], ["compare", "r1", "r1"]):
        err = _one_line(cli(*args, "--store", store))
        assert "run r1: column results is not valid JSON" in err
    with sqlite3.connect(store) as c:
        c.execute("UPDATE runs SET results='{}' WHERE run_id='r1'")
        c.execute("UPDATE samples SET record='not json' WHERE run_id='r1'")
    assert "sample 0 is not valid JSON" in _one_line(cli("site", "build", "--out", tmp_path / "site", "--store", store))


def test_full_disk_names_the_real_reason(tmp_path):
    """SQLITE_FULL rolls the transaction back itself; the store must say "disk is full",
    not "cannot rollback - no transaction is active", and keep the run unfinished."""
    st = Store(tmp_path / "s.db")
    st.start_run("r1", "m", ["t"], {})
    pages = st.conn.execute("PRAGMA page_count").fetchone()[0]
    st.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills after two more pages
    big = [SampleRecord("t", i, "p" * 4000, ["o" * 4000], "x", "x", 1.0, {}) for i in range(20)]
    with pytest.raises(StoreError) as info:
        st.finish_run("r1", {"t": {}}, [], big, {})
    msg = str(info.value)
    assert "database or disk is full" in msg and "free space" in msg and "rollback" not in msg
    st.conn.execute("PRAGMA max_page_count = 1073741823")
    assert st.run("r1")["status"] == "running" and st.samples("r1") == []
    st.finish_run("r1", {"t": {}}, [], big[:2], {})  # space again: the store still works
    assert len(st.samples("r1")) == 2


@pytest.mark.parametrize("command", [["runs"], ["runs", "--show", "x"], ["compare", "a", "b"],
                                     ["leaderboard", "show", "reasoning"], ["export", "x"],
                                     ["site", "build", "--out", "SITE"]])
def test_readers_never_create_a_store(cli, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    err = _one_line(cli(*command, "--store", missing))
    assert "no store at" in err or "there is no store at" in err
    assert not (tmp_path / "no").exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    _one_line(cli(*command, "--store", empty))
    assert empty.stat().st_size == 0


def test_run_cannot_create_store_under_a_file(cli, tmp_path, data_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _one_line(cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir,
                        "--store", blocker / "s.db"))
    assert "cannot create store" in err

"""The PostgreSQL store: same schema and behaviour as SQLite, migrations, a refused
newer database, read-only readers, masked credentials, a shared generation cache
and `evalkit store copy` both ways (idempotent, resumable after kill -9)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fakes import ScriptedBackend

from evalkit.core.errors import StoreError
from evalkit.core.types import GenParams, Request, SampleRecord
from evalkit.run.cache import CachedGenerator
from evalkit.store import SCHEMA_VERSION, Store, open_reader
from evalkit.store.schema import _V1

pytest_plugins = ("pgserver",)  # the pg_server and pg_url fixtures


def _rec(doc: int, score: float = 1.0) -> SampleRecord:
    return SampleRecord("t", doc, "p", ["o"], "x", "x", score, {"exact_match": score})


def _fill(st: Store, run_id: str, n: int = 3) -> None:
    st.start_run(run_id, "m", ["t"], {"k": 1}, {"groups": {}, "main_metric": {"t": "exact_match"}})
    st.finish_run(run_id, {"t": {"exact_match": 1.0, "n": n}}, [("t", "exact_match", 1.0, 0.0, n)],
                  [_rec(i) for i in range(n)], {"k": 1})


def test_same_store_behaviour_as_sqlite(pg_url, tmp_path):
    seen = []
    for target in (pg_url, tmp_path / "s.db"):
        st = Store(target)
        _fill(st, "r1")
        r = st.run("r1")
        seen.append((r["status"], r["results"], r["layout"], st.samples("r1"), st.metrics("r1"),
                     st.sample_scores("r1"), st.latest_complete("m")))
        st.close()
    assert seen[0] == seen[1]
    assert seen[0][0] == "complete" and len(seen[0][3]) == 3


def test_reader_is_read_only_and_never_creates(pg_url, pg_server):
    with pytest.raises(StoreError, match="empty database"):
        open_reader(pg_url)  # nothing there yet: a reader does not create the schema
    Store(pg_url).close()
    r = open_reader(pg_url)
    with pytest.raises(StoreError, match="read-only"):
        r.engine.write(lambda tx: tx.execute("DELETE FROM runs"))
    with pytest.raises(StoreError, match="cannot connect"):
        open_reader(pg_server.url("no_such_db"))


def test_v1_database_is_migrated_and_newer_is_refused(pg_url, cli):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as c:  # a store as evalkit wrote it before versioning
        for sql in _V1:
            c.execute(sql.format(real="DOUBLE PRECISION"))
        c.execute("INSERT INTO runs (run_id, model, tasks, status, started, config, results) "
                  "VALUES ('old', 'm', '[\"t\"]', 'complete', 1.0, '{}', '{\"t\": {\"acc\": 0.5}}')")
    r = open_reader(pg_url)  # a reader reads v1 as it is
    assert r.version == 1 and r.run("old")["layout"] is None
    r.close()
    assert cli("store", "migrate", "--store", pg_url).code == 0
    st = Store(pg_url)
    assert st.version == SCHEMA_VERSION and st.run("old")["results"] == {"t": {"acc": 0.5}}
    st.engine.write(lambda tx: tx.execute("UPDATE evalkit_meta SET value='99' WHERE key='schema_version'"))
    st.close()
    for args in (("runs",), ("store", "migrate"), ("site", "build", "--out", "site")):
        res = cli(*args, "--store", pg_url)
        assert res.code != 0 and "Traceback" not in res.err
        assert res.err.strip().count("\n") == 0 and "schema version 99, newer than this evalkit" in res.err


def test_credentials_never_printed(pg_server, cli, tmp_path):
    url = pg_server.url(pg_server.new_database(), password="hunter2-secret")  # trust auth ignores it
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "2", "--store", url,
              "--output", tmp_path / "o")
    assert res.code == 0, res
    assert "hunter2" not in res.out + res.err and ":***@" in res.out
    assert "hunter2" not in (tmp_path / "o" / "results.json").read_text()
    listed = cli("runs", "--store", url)
    assert listed.code == 0 and "hunter2" not in listed.out + listed.err
    bad = cli("runs", "--store", url.rsplit("/", 1)[0] + "/no_such_db")
    assert bad.code != 0 and "hunter2" not in bad.err and "***" in bad.err
    site = cli("site", "build", "--out", tmp_path / "site", "--store", url)
    assert site.code == 0
    assert not any("hunter2" in p.read_text() for p in (tmp_path / "site").rglob("*.html"))


def _reqs(n: int) -> list[Request]:
    return [Request("t", i, f"prompt {i}", GenParams(max_tokens=8, temperature=0.7, n=2, seed=3)) for i in range(n)]


def test_shared_cache_two_runners_race_one_row_per_key(pg_url):
    """Duplicate compute is accepted, a duplicate or torn row never: the first row stored wins
    and both runners go on with it, even when their backends answered differently."""
    Store(pg_url).close()

    def runner(tag: str):
        st = Store(pg_url)
        try:
            return CachedGenerator(ScriptedBackend(lambda r, k: f"{tag}:{r.prompt}#{k}"), st).generate(_reqs(60))
        finally:
            st.close()

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(runner, ["A", "B"])
    assert [g.texts for g in a] == [g.texts for g in b]
    st = open_reader(pg_url)
    rows = st.engine.query("SELECT key, COUNT(*) FROM generations GROUP BY key")
    assert len(rows) == 120 and all(n == 1 for _, n in rows)
    stored = st.get_generations([k for k, _ in rows])
    assert sorted(t for t, *_ in stored.values()) == sorted(t for g in a for t in g.texts)
    backend = ScriptedBackend(lambda r, k: "never")
    CachedGenerator(backend, Store(pg_url)).generate(_reqs(60))
    assert backend.calls == []  # a third runner computes nothing


def _copy(src: str, dst: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit.cli", "store", "copy", src, dst, "--batch", "50"],
                          capture_output=True, text=True, timeout=300)


def _content(target) -> tuple:
    st = open_reader(target)
    runs = sorted((r["run_id"], r["status"], str(r["results"]), str(r["layout"])) for r in st.run_records())
    samples = sorted((r, str(st.samples(r))) for r, *_ in runs)
    gens = sorted(st.engine.query("SELECT key, model, text, finish_reason FROM generations"))
    st.close()
    return runs, samples, gens


def test_store_copy_both_ways_idempotent(pg_url, tmp_path):
    src = tmp_path / "src.db"
    st = Store(src)
    for i in range(4):
        _fill(st, f"r{i}", n=5)
    st.start_run("still-running", "m", ["t"], {})
    CachedGenerator(ScriptedBackend(lambda r, k: f"{r.prompt}#{k}"), st).generate(_reqs(300))
    st.close()
    first = _copy(str(src), pg_url)
    assert first.returncode == 0, first.stderr
    assert "copied 4 runs" in first.stdout and "1 still running" in first.stdout and "600 new" in first.stdout
    again = _copy(str(src), pg_url)
    assert "copied 0 runs (4 already there" in again.stdout and "0 new of 600" in again.stdout
    back = tmp_path / "back.db"
    assert _copy(pg_url, str(back)).returncode == 0
    want = _content(src)
    want = ([r for r in want[0] if r[0] != "still-running"], [s for s in want[1] if s[0] != "still-running"], want[2])
    assert _content(pg_url) == _content(back) == want


def test_store_copy_resumes_after_kill_9(pg_url, tmp_path):
    src = tmp_path / "src.db"
    st = Store(src)
    for i in range(30):
        _fill(st, f"r{i:02d}", n=200)
    CachedGenerator(ScriptedBackend(lambda r, k: f"{r.prompt}#{k}"), st).generate(_reqs(2000))
    st.close()
    want = _content(src)
    for delay in (0.5, 1.0, 1.5):  # kill at a few points; each copy restarts where the last stopped
        proc = subprocess.Popen([sys.executable, "-m", "evalkit.cli", "store", "copy", str(src), pg_url,
                                 "--batch", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = _content(pg_url) if _has_schema(pg_url) else ([], [], [])
        for run_id, status, *_ in partial[0]:
            assert status == "complete"  # a copied run is whole or absent
        assert all(s in want[1] for s in partial[1])
    done = _copy(str(src), pg_url)
    assert done.returncode == 0, done.stderr
    assert _content(pg_url) == want


def _has_schema(url: str) -> bool:
    try:
        open_reader(url).close()
        return True
    except StoreError:
        return False


def test_every_reader_command_on_postgres(cli, pg_url, tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("EVALKIT_STORE", pg_url)  # the environment variable, not --store
    for seed in ("1", "2"):
        res = cli("run", "--model", "dummy", "--tasks", "bbh", "--limit", "2", "--data-dir", data_dir,
                  "--seed", seed)
        assert res.code == 0, res
    ids = [r["run_id"] for r in open_reader(pg_url).runs()]
    assert len(ids) == 2
    cmp = cli("compare", *ids, "--format", "json")
    assert cmp.code == 0, cmp
    assert len(json.loads(cmp.out)["tasks"]) == 27
    assert cli("compare", "latest:dummy", ids[0]).code == 0
    board = cli("leaderboard", "show", "reasoning")
    assert board.code == 0 and "dummy" in board.out
    out = tmp_path / "lm.json"
    exp = cli("export", "latest:dummy", "--output", out)
    assert exp.code == 0, exp
    assert json.loads(out.read_text())["evalkit"]["run_id"] == ids[-1]

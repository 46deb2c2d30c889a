"""Many real `evalkit run` processes on one PostgreSQL store: 8 at once (dummy and
replay models, different and overlapping tasks) with a site build reading
meanwhile; a runner SIGKILLed and restarted; the server restarted mid-run.
Every result must equal the same runs done one by one on SQLite."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from replay_runs import gold_targets, pick_wrong, write_replay

from evalkit.store import open_reader

pytest_plugins = ("pgserver",)  # the pg_server and pg_url fixtures

TASKS = ["bbh_navigate", "bbh_boolean_expressions", "bbh_date_understanding"]


def _runs(tmp: Path, data_dir: Path) -> list[list[str]]:
    targets = gold_targets(data_dir, TASKS)
    gold = write_replay(tmp / "gold.jsonl", targets)
    noisy = write_replay(tmp / "noisy.jsonl", targets, pick_wrong(targets, 0.3, 1))
    return [
        ["--model", "dummy", "--tasks", "bbh_navigate", "--limit", "30"],
        ["--model", "dummy", "--tasks", "bbh_navigate", "--limit", "30"],  # the same as the first: shared cache
        ["--model", "dummy", "--tasks", "bbh_navigate,bbh_date_understanding", "--limit", "25"],  # overlaps
        ["--model", "dummy", "--tasks", "bbh_boolean_expressions", "--limit", "20", "--samples", "3"],
        ["--model", "dummy", "--tasks", "bbh_date_understanding", "--limit", "30"],  # overlaps the third
        ["--model", f"replay:{gold}", "--tasks", ",".join(TASKS), "--limit", "40"],
        ["--model", f"replay:{noisy}", "--tasks", ",".join(TASKS), "--limit", "40"],
        ["--model", f"replay:{noisy}", "--tasks", "bbh_navigate", "--limit", "40"],
    ]


def _cmd(args: list[str], store: str, data_dir: Path, out: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "evalkit.cli", "run", *args, "--store", store, "--data-dir", str(data_dir)]
    return cmd + (["--output", str(out)] if out else [])


def _outcome(store: str) -> dict[str, tuple]:
    """What each run produced, keyed by how it was asked for (model, tasks, config)."""
    st = open_reader(store)
    out = {}
    for r in st.run_records(status="complete"):
        c = r["config"]
        key = json.dumps([r["model"], r["tasks"], c["limit"], c["seed"], c["samples"]])
        samples = [(s["task"], s["doc_id"], s["outputs"], s["score"]) for s in st.samples(r["run_id"])]
        out[key] = (r["results"], samples, r["layout"])
    st.close()
    return out


def test_eight_concurrent_runs_and_a_site_build(pg_url, tmp_path, data_dir):
    runs = _runs(tmp_path, data_dir)
    procs = [subprocess.Popen(_cmd(a, pg_url, data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for a in runs]
    from evalkit.report.site.build import build_site

    builds, build_errors = 0, []
    while any(p.poll() is None for p in procs):
        try:
            build_site(pg_url, tmp_path / "site")
            builds += 1
        except Exception as exc:  # the schema may not exist for the first instant
            build_errors.append(str(exc))
        time.sleep(0.2)
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    assert builds >= 1, build_errors
    assert all("empty database" in e for e in build_errors)
    build_site(pg_url, tmp_path / "site")

    sqlite = str(tmp_path / "serial.db")
    for a in runs:
        done = subprocess.run(_cmd(a, sqlite, data_dir), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    pg, lite = _outcome(pg_url), _outcome(sqlite)
    assert len(lite) == 7  # the two identical dummy runs share a key
    assert pg == lite

    st = open_reader(pg_url)
    q = st.engine.query
    assert q("SELECT status, COUNT(*) FROM runs GROUP BY status") == [("complete", 8)]
    expected = 30 + 30 + 50 + 20 + 30 + 120 + 120 + 40
    assert q("SELECT COUNT(*) FROM samples")[0][0] == expected  # none lost, none duplicated
    keys = q("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations")[0]
    serial = open_reader(sqlite).engine.query("SELECT COUNT(*) FROM generations")[0][0]
    assert keys[0] == keys[1] == serial >= 30 + 25 + 60  # each generation stored once, as one by one
    html = list((tmp_path / "site" / "runs").rglob("*.html"))
    assert len({p.parent for p in html}) == 8


def _generated(url: str) -> int:
    try:
        st = open_reader(url)
    except Exception:
        return 0
    try:
        return st.engine.query("SELECT COUNT(*) FROM generations")[0][0]
    finally:
        st.close()


DUMMY = ["--model", "dummy", "--tasks", "bbh_date_understanding", "--limit", "40"]


def _slow(delay: float) -> list[str]:
    return DUMMY + ["--model-args", f"delay={delay}"]


def _reference(tmp: Path, data_dir: Path) -> dict:
    done = subprocess.run(_cmd(DUMMY, str(tmp / "ref.db"), data_dir, tmp / "ref"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads((tmp / "ref" / "results.json").read_text())


def test_sigkill_then_resume_from_the_shared_cache(pg_url, tmp_path, data_dir):
    proc = subprocess.Popen(_cmd(_slow(0.1), pg_url, data_dir, tmp_path / "killed"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _generated(pg_url) < 12 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _generated(pg_url)
    assert 12 <= before < 40
    rerun = subprocess.run(_cmd(DUMMY, pg_url, data_dir, tmp_path / "resumed"), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    resumed = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert resumed["config"]["requests"]["samples_from_cache"] == before
    assert resumed["config"]["requests"]["sent"] == 40 - before
    assert resumed["results"] == _reference(tmp_path, data_dir)["results"]
    st = open_reader(pg_url)
    assert sorted(st.engine.query("SELECT status FROM runs")) == [("complete",), ("interrupted",)]
    assert st.engine.query("SELECT COUNT(*) FROM generations")[0][0] == 40


def test_server_restart_mid_run_retries_and_finishes(pg_server, tmp_path, data_dir):
    if pg_server.data is None:
        pytest.skip("the server is external (EVALKIT_TEST_PG); the tests cannot restart it")
    url = pg_server.url(pg_server.new_database())
    proc = subprocess.Popen(_cmd(_slow(0.1), url, data_dir, tmp_path / "out"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "EVALKIT_STORE_RETRY_S": "60"})
    deadline = time.time() + 120
    while _generated(url) < 8 and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the restart should land mid-run"
    pg_server.ctl("-m", "fast", "-w", "restart")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "retrying for up to 60s" in err  # the restart really cut the runner's connection
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["results"] == _reference(tmp_path, data_dir)["results"]
    st = open_reader(url)
    assert st.engine.query("SELECT status FROM runs") == [("complete",)]
    assert st.engine.query("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations")[0] == (40, 40)
    assert st.engine.query("SELECT COUNT(*) FROM samples")[0][0] == 40


def test_server_down_longer_than_the_retry_stops_with_one_line_then_resumes(pg_server, tmp_path, data_dir):
    if pg_server.data is None:
        pytest.skip("the server is external (EVALKIT_TEST_PG); the tests cannot stop it")
    url = pg_server.url(pg_server.new_database())
    proc = subprocess.Popen(_cmd(_slow(0.1), url, data_dir, tmp_path / "out"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "EVALKIT_STORE_RETRY_S": "3"})
    deadline = time.time() + 120
    while _generated(url) < 8 and time.time() < deadline:
        time.sleep(0.05)
    pg_server.ctl("-m", "fast", "-w", "stop")
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        pg_server.start()
    assert proc.returncode != 0 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: lost the store") and "rerun the same command to resume" in last
    before = _generated(url)
    rerun = subprocess.run(_cmd(DUMMY, url, data_dir, tmp_path / "out"), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    assert result["config"]["requests"]["samples_from_cache"] == before >= 8
    assert result["results"] == _reference(tmp_path, data_dir)["results"]
    st = open_reader(url)
    assert st.engine.query("SELECT COUNT(*), COUNT(DISTINCT key) FROM generations")[0] == (40, 40)
    # the stopped run could not record its own end; the rerun found its process gone and marked it
    assert sorted(st.engine.query("SELECT status FROM runs")) == [("complete",), ("interrupted",)]

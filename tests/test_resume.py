"""Kill a real `evalkit run` subprocess with SIGKILL mid-way; the rerun makes
only the missing requests and gives the same results as an uninterrupted run."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

N = 40


def _cmd(store: Path, out: Path, data_dir: Path, delay: float) -> list[str]:
    return [sys.executable, "-m", "evalkit.cli", "run", "--model", "dummy", "--model-args", f"delay={delay}",
            "--tasks", "bbh_date_understanding", "--limit", str(N), "--store", str(store), "--output", str(out),
            "--data-dir", str(data_dir)]


def _cached(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def _samples(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "samples" / "bbh_date_understanding.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_then_resume(tmp_path, data_dir, seed):
    """Killed at a different random point per seed; every rerun matches the clean run."""
    kill_after = random.Random(seed).randint(5, N - 10)
    store = tmp_path / "s.db"
    proc = subprocess.Popen(_cmd(store, tmp_path / "killed", data_dir, 0.1), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _cached(store) < kill_after and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _cached(store)
    assert kill_after <= done_before < N, "the kill should land mid-run"
    assert not (tmp_path / "killed" / "results.json").exists()

    rerun = subprocess.run(_cmd(store, tmp_path / "resumed", data_dir, 0.0), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    resumed = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert resumed["config"]["requests"]["sent"] == N - done_before
    assert resumed["config"]["requests"]["samples_from_cache"] == done_before

    clean = subprocess.run(_cmd(tmp_path / "clean.db", tmp_path / "clean", data_dir, 0.0), capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    reference = json.loads((tmp_path / "clean" / "results.json").read_text())
    assert resumed["results"] == reference["results"]
    assert [(s["doc_id"], s["outputs"], s["score"]) for s in _samples(tmp_path / "resumed")] == \
           [(s["doc_id"], s["outputs"], s["score"]) for s in _samples(tmp_path / "clean")]

    with sqlite3.connect(store) as c:
        statuses = dict(c.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        assert statuses == {"interrupted": 1, "complete": 1}
        assert c.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == N  # nothing duplicated


def test_two_writers_and_a_site_reader_share_one_store(tmp_path, data_dir):
    """Two runs write the same store at once while the site is built from it:
    no 'database is locked', no lost run, no corruption."""
    store = tmp_path / "shared.db"
    procs = [subprocess.Popen(_cmd(store, tmp_path / f"w{i}", data_dir, 0.02) + ["--samples", "2", "--seed", str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    from evalkit.report.site.build import build_site

    builds = 0
    while any(p.poll() is None for p in procs):
        if store.exists():
            build_site(store, tmp_path / f"site{builds % 2}")
            builds += 1
        time.sleep(0.05)
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, err
        assert "locked" not in err
    assert builds >= 1
    with sqlite3.connect(store) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = c.execute("SELECT run_id, status FROM runs").fetchall()
        assert len(runs) == 2 and {s for _, s in runs} == {"complete"}
        for run_id, _ in runs:
            assert c.execute("SELECT COUNT(*) FROM samples WHERE run_id=?", (run_id,)).fetchone()[0] == N
    build_site(store, tmp_path / "final")

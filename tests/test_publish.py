"""A kill never leaves a mixed output folder (issue 14 §5): SIGKILL at every filesystem step of
publishing a run over an earlier one leaves either the old run, the new run, or a folder without
results.json (visibly incomplete); the next run sweeps the temp folders a killed run left."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from evalkit.core.types import SampleRecord
from evalkit.run.results import write_output_dir


def _run(tag: str, tasks: list[str]):
    payload = {"run_id": tag, "results": {t: {"n": 2} for t in tasks}}
    records = {t: [SampleRecord(t, i, "p", [tag], "y", "y", 1.0) for i in range(2)] for t in tasks}
    return payload, records


KILLABLE = [(os, "rename"), (os, "replace"), (os, "unlink"), (os, "mkdir"), (os, "fsync"), (shutil, "rmtree")]


def _write(out: Path, tag: str, tasks: list[str], kill_at: int = 0) -> tuple[int, int]:
    """Publish run ``tag`` into ``out`` in a forked child that SIGKILLs itself just before its
    ``kill_at``-th filesystem step (0: never). Returns (wait status, steps taken)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        steps = [0]

        def killing(fn):
            def wrapper(*a, **kw):
                steps[0] += 1
                if steps[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
                return fn(*a, **kw)
            return wrapper

        code = 0
        try:
            for mod, name in KILLABLE:
                setattr(mod, name, killing(getattr(mod, name)))
            write_output_dir(out, *_run(tag, tasks))
            os.write(w, str(steps[0]).encode())
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        steps = f.read()
    _, status = os.waitpid(pid, 0)
    return status, int(steps or 0)


def _state(out: Path) -> str:
    """'A' or 'B' when the folder is one complete run, 'incomplete' without results.json;
    fails when results.json and the samples disagree (a mixed folder)."""
    if not (out / "results.json").exists():
        return "incomplete"
    payload = json.loads((out / "results.json").read_text())
    tag = payload["run_id"]
    files = sorted(p.stem for p in (out / "samples").glob("*.jsonl"))
    assert files == sorted(payload["results"]), f"results.json of {tag} beside samples {files}"
    for f in (out / "samples").glob("*.jsonl"):
        lines = [json.loads(ln) for ln in f.read_text().splitlines()]
        assert len(lines) == 2 and all(ln["outputs"] == [tag] for ln in lines), f"{f.name} is not from {tag}"
    return tag


A, B = ["t1", "t2"], ["t1", "t3"]


def test_sigkill_at_every_step_of_an_overwrite(tmp_path):
    status, n_steps = _write(tmp_path / "probe", "A", A)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and n_steps >= 6
    seen = set()
    for k in range(1, n_steps + 1):  # every step, so no seed can miss the one window that matters
        out = tmp_path / f"k{k}"
        write_output_dir(out, *_run("A", A))
        status, _ = _write(out, "B", B, kill_at=k)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (k, status)
        state = _state(out)
        seen.add(state)
        # the next run over the same folder publishes cleanly and sweeps the dead run's temp folder
        write_output_dir(out, *_run("C", ["t2"]))
        assert _state(out) == "C"
        assert not list(out.glob(".evalkit-*")), (k, list(out.iterdir()))
    assert seen <= {"A", "B", "incomplete"} and "A" in seen


def test_a_live_runs_temp_folder_is_left_alone(tmp_path):
    from evalkit.run.results import sweep_temp_dirs

    out = tmp_path / "out"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = out / f".evalkit-{sleeper.pid}-abc"
        dead = out / ".evalkit-999999999-abc"
        legacy = out / ".evalkit-k2j3h4"  # from a version that did not put the pid in the name
        for d in (live, dead, legacy):
            (d / "samples").mkdir(parents=True)
        mine = out / "my-notes.txt"
        mine.write_text("keep")
        swept = sweep_temp_dirs(out)
        assert sorted(swept) == sorted([dead, legacy])
        assert live.is_dir() and mine.read_text() == "keep"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_next_run_sweeps_what_a_killed_run_left(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    stale = out / ".evalkit-999999999-x1y2"
    (stale / "samples").mkdir(parents=True)
    (stale / "samples" / "bbh_navigate.jsonl").write_text("{}\n")
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "2", "--data-dir", data_dir,
              "--store", store_path, "--output", out)
    assert res.code == 0, res
    assert not stale.exists() and (out / "results.json").exists()


def test_overwrite_drops_samples_of_tasks_the_new_run_lacks(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    base = ["run", "--model", "dummy", "--limit", "2", "--data-dir", data_dir, "--store", store_path, "--output", out]
    assert cli(*base, "--tasks", "bbh_navigate,bbh_sports_understanding").code == 0
    assert cli(*base, "--tasks", "bbh_navigate", "--overwrite").code == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["bbh_navigate.jsonl"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_of_a_real_overwrite_run(tmp_path, data_dir, seed):
    """The whole CLI, killed after a seeded delay while it runs --overwrite over a finished run."""
    import random
    import time

    out, store = tmp_path / "out", tmp_path / "s.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "EVALKIT_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "evalkit.cli", "run", "--model", "dummy", "--data-dir", str(data_dir),
           "--store", str(store), "--output", str(out), "--limit", "3"]
    assert subprocess.run(cmd + ["--tasks", "bbh_navigate,bbh_sports_understanding"], env=env,
                          capture_output=True, timeout=120).returncode == 0
    before = (out / "results.json").read_text()
    proc = subprocess.Popen(cmd + ["--tasks", "bbh_navigate", "--overwrite"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(seed).uniform(0.5, 4.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (out / "results.json").exists():
        payload = json.loads((out / "results.json").read_text())
        files = sorted(p.stem for p in (out / "samples").glob("*.jsonl"))
        assert files == sorted(payload["results"]), payload
        if (out / "results.json").read_text() == before:
            assert files == ["bbh_navigate", "bbh_sports_understanding"]
        else:
            assert files == ["bbh_navigate"]

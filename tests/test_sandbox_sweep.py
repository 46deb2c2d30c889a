"""A killed harness leaves evalkit-sbx-* folders and cgroups; the next one sweeps them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.sandbox import cgroup, sweep


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_folders_of_dead_harnesses_go_and_live_ones_stay(tmp_path):
    dead = tmp_path / f"evalkit-sbx-{dead_pid()}-abc123"
    live = tmp_path / f"evalkit-sbx-{os.getpid()}-abc123"
    reused = tmp_path / f"evalkit-sbx-{os.getpid()}-def456"  # made before this process started: pid reused
    old_legacy, new_legacy = tmp_path / "evalkit-sbx-0a1b2c", tmp_path / "evalkit-sbx-3d4e5f"
    other = tmp_path / "someone-elses-folder"
    for folder in (dead, live, reused, old_legacy, new_legacy, other):
        folder.mkdir()
        (folder / "main.py").write_text("print('a program')")
    os.utime(reused, (1000, 1000))
    old = time.time() - 2 * sweep.LEGACY_AGE_S
    os.utime(old_legacy, (old, old))

    removed = sweep.sweep(str(tmp_path), cgroup_mounts=[])

    assert sorted(removed) == sorted(str(p) for p in (dead, reused, old_legacy))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, new_legacy, other))


@pytest.fixture
def roots():
    found = cgroup.find_roots()
    if found is None:
        pytest.skip("no writable cgroup v1 pids and memory hierarchies here")
    return found


def test_cgroups_of_dead_harnesses_are_emptied_and_removed(roots):
    group = roots.pids / f"evalkit-sbx-{dead_pid()}-abc123"
    group.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (group / "cgroup.procs").write_text(str(sleeper.pid))
        mount = next(p for p in cgroup._v1_mounts().values() if roots.pids.is_relative_to(p))
        removed = sweep.sweep(os.devnull, cgroup_mounts=[mount])
        assert str(group) in removed and not group.exists()
        assert sleeper.wait(timeout=5) == -signal.SIGKILL
    finally:
        sleeper.kill()
        if group.exists():
            group.rmdir()


def test_a_killed_harness_leaves_nothing_after_the_next_run(tmp_path):
    """SIGKILL a harness in the middle of a run; the next harness's first run sweeps what it left."""
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    harness = subprocess.Popen([sys.executable, "-c", "from evalkit.sandbox import run_program\n"
                                "run_program('import time; time.sleep(60)', timeout_s=60)"], env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f"evalkit-sbx-{harness.pid}-*")):
            assert time.monotonic() < deadline and harness.poll() is None, "the run never started"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        harness.kill()
        harness.wait()
    assert list(tmp_path.glob(f"evalkit-sbx-{harness.pid}-*")), "nothing was left to sweep"
    left_groups = [str(p) for p in _groups_of(harness.pid)]
    assert left_groups or cgroup.find_roots() is None, "the killed run's cgroups were not left behind"

    after = subprocess.run([sys.executable, "-c", "from evalkit.sandbox import run_program\n"
                            "print(run_program('print(1)').status)"], env=env, capture_output=True, text=True)

    assert after.stdout.strip() == "passed", after.stderr[-2000:]
    assert not list(tmp_path.glob(f"evalkit-sbx-{harness.pid}-*"))
    assert not [g for g in left_groups if Path(g).exists()]


def _groups_of(pid: int) -> list[Path]:
    try:
        mounts = set(cgroup._v1_mounts().values())
    except OSError:
        return []
    return [p for m in mounts for p in m.rglob(f"evalkit-sbx-{pid}-*")]

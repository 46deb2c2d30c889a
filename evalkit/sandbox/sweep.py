"""Sweeping what a killed harness left: ``evalkit-sbx-*`` folders (holding
programs) and per-run cgroups.

A harness removes both after each run, but a SIGKILL between creating and
removing them leaves them behind. Every name carries the creating harness's
pid (``evalkit-sbx-<pid>-<random>``); the first run of a later harness removes
those whose creator is gone: no process with that pid, or one that started
after the folder was made (the pid was reused). Members still in a dead run's
cgroup are killed first. Names without a pid (from earlier versions) go once
they are an hour old.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

PREFIX = "evalkit-sbx-"
_NAME = re.compile(r"^evalkit-sbx-(?:(\d+)-)?[\w]+$")
LEGACY_AGE_S = 3600.0
_CGROUP_DEPTH = 6  # how deep to look under each cgroup hierarchy


def name_prefix() -> str:
    """The prefix for this process's folders and cgroups."""
    return f"{PREFIX}{os.getpid()}-"


def sweep(tmp_dir: str | None = None, cgroup_mounts: list[Path] | None = None) -> list[str]:
    """Removes leftovers of dead harnesses; returns what it removed."""
    removed = []
    tmp = Path(tmp_dir or tempfile.gettempdir())
    try:
        entries = list(tmp.iterdir())
    except OSError:
        entries = []
    for path in entries:
        if path.name.startswith(PREFIX) and path.is_dir() and not path.is_symlink() and _orphaned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    for root in cgroup_mounts if cgroup_mounts is not None else _cgroup_mounts():
        removed.extend(_sweep_cgroups(root))
    return removed


def _orphaned(path: Path) -> bool:
    m = _NAME.match(path.name)
    if m is None:
        return False
    try:
        made = path.stat().st_mtime
    except OSError:
        return False
    if m.group(1) is None:
        return time.time() - made > LEGACY_AGE_S
    started = _start_time(int(m.group(1)))
    return started is None or started > made + 1.0


def _start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rpartition(")")[2].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _cgroup_mounts() -> list[Path]:
    from evalkit.sandbox import cgroup

    try:
        return sorted(set(cgroup._v1_mounts().values()))
    except OSError:
        return []


def _sweep_cgroups(root: Path) -> list[str]:
    removed = []
    for top, dirs, _ in os.walk(root):
        depth = len(Path(top).relative_to(root).parts)
        if depth >= _CGROUP_DEPTH:
            dirs[:] = []
            continue
        for name in list(dirs):
            if not name.startswith(PREFIX):
                continue
            dirs.remove(name)  # a run's group has no groups of its own
            group = Path(top) / name
            if _orphaned(group) and _remove_group(group):
                removed.append(str(group))
    return removed


def _remove_group(group: Path) -> bool:
    """Kills what is left in a dead run's group, then removes it."""
    for _ in range(20):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            group.rmdir()
            return True
        except FileNotFoundError:
            return False
        except OSError:
            time.sleep(0.01)
    return False

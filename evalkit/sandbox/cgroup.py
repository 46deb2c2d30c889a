"""Per-run cgroup v1 groups: a pids cap and a memory cap over all of a run's processes.

RLIMIT_AS bounds one process; a program that forks bounds nothing with it, so
the memory group caps the sum, and the pids group caps forks even where
RLIMIT_NPROC does not apply. The group's member list is also the exact set of
processes to kill afterwards: an unprivileged process cannot leave its cgroup.

Only cgroup v1 hierarchies with a writable ``pids`` and ``memory`` controller
are used; elsewhere (cgroup v2, read-only cgroupfs) the sandbox runs without.
"""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CgroupRoots:
    """Where this process's own pids and memory groups live; runs nest under them."""

    pids: Path
    memory: Path


@dataclass(frozen=True)
class RunGroup:
    """The two groups of one run."""

    pids: Path
    memory: Path

    @property
    def procs_files(self) -> list[str]:
        return [str(self.pids / "cgroup.procs"), str(self.memory / "cgroup.procs")]


def find_roots() -> CgroupRoots | None:
    """This process's v1 pids and memory groups, if both are writable, else None."""
    try:
        mounts = _v1_mounts()
        own = _own_groups()
        roots = CgroupRoots(pids=mounts["pids"] / own["pids"], memory=mounts["memory"] / own["memory"])
        probe = create(roots, pids_max=1, memory_bytes=64 << 20)
        destroy(probe)
        return roots
    except (OSError, KeyError):
        return None


def create(roots: CgroupRoots, *, pids_max: int, memory_bytes: int) -> RunGroup:
    name = f"evalkit-sbx-{os.getpid()}-{secrets.token_hex(6)}"  # the pid: see sweep
    group = RunGroup(pids=roots.pids / name, memory=roots.memory / name)
    group.pids.mkdir()
    try:
        group.memory.mkdir()
        (group.pids / "pids.max").write_text(str(pids_max))
        (group.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
    except OSError:
        destroy(group)
        raise
    return group


def members(group: RunGroup) -> list[int]:
    """Live processes in either group (exited ones leave at exit, zombies included)."""
    pids: set[int] = set()
    for procs in group.procs_files:
        try:
            pids.update(int(line) for line in Path(procs).read_text().split())
        except FileNotFoundError:
            continue
    return sorted(pids)


def oom_killed(group: RunGroup) -> bool:
    """Whether the kernel's OOM killer fired inside the memory group."""
    try:
        for line in (group.memory / "memory.oom_control").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value) > 0
    except (OSError, ValueError):
        pass
    return False


def destroy(group: RunGroup, *, attempts: int = 20) -> None:
    """Removes both groups. A killed task can linger in its group for a moment
    after it is reaped, so a busy group is retried briefly; one that stays busy
    (a process that would not die, already reported by the runner) is left."""
    for path in (group.pids, group.memory):
        for attempt in range(attempts):
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.005 * (attempt + 1))


def _v1_mounts() -> dict[str, Path]:
    found: dict[str, Path] = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, where, fstype, options, *_ = line.split()
            if fstype == "cgroup":
                for controller in ("pids", "memory"):
                    if controller in options.split(","):
                        found[controller] = Path(where)
    return found


def _own_groups() -> dict[str, str]:
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _id, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path.lstrip("/")
    return own

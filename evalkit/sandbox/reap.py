"""Finding and killing every process a run left behind.

A program can escape its process group with setsid() and double-fork into a
daemon, so killing the group is not enough. Two lists are exact where they
exist: the run's cgroup members, and the processes owned by the run's
dedicated uid. Both are killed with SIGKILL in a loop until empty, because a
fork bomb can spawn between reading a list and killing it.
"""
from __future__ import annotations

import os
import signal
import time
from typing import Callable, Iterable

SWEEP_TIMEOUT_S = 5.0  # a process in uninterruptible sleep can take a while to die


def pids_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) processes whose real uid is ``uid``, from /proc."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                status = f.read()
        except OSError:  # exited while we looked
            continue
        if _field(status, "State").startswith("Z"):
            continue
        if _field(status, "Uid").split()[:1] == [str(uid)]:
            found.append(int(entry.name))
    return found


def kill_all(*listers: Callable[[], Iterable[int]], timeout_s: float = SWEEP_TIMEOUT_S) -> list[int]:
    """SIGKILLs whatever the listers report until they report nothing.

    Returns the pids still alive when ``timeout_s`` ran out (normally []).
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        alive = sorted({pid for lister in listers for pid in lister()})
        if not alive or time.monotonic() > deadline:
            return alive
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time of these processes, with their reaped children's, from /proc (0 for gone ones)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / _TICK


def pids_in_session(sid: int) -> list[int]:
    """Processes of session ``sid`` (the run's, without a cgroup to list them), from /proc."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    if int(f.read().rpartition(")")[2].split()[3]) == sid:
                        found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _field(status: str, name: str) -> str:
    prefix = name + ":"
    for line in status.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return ""

"""Which isolation this machine allows, and how to ask for it.

Plans are tried strongest first; the runner keeps the first one under which a
trivial program really passes, so the isolation string reports what works here
rather than what ought to:

1. Linux namespaces (net, pid, mount, ipc, uts) via unshare(2); as root also a
   fresh uid per run; without root a user namespace instead.
2. As root without namespaces: a fresh uid per run.
3. rlimits, a new session and a process-group kill only.

``EVALKIT_SANDBOX_ISOLATION=rlimits`` forces the last one (for debugging, and
for the test of the fallback path).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace

from evalkit.sandbox import cgroup
from evalkit.sandbox.limits import Limits

FORCE_ENV = "EVALKIT_SANDBOX_ISOLATION"
# Fresh uids come from a range no distribution hands out, so a uid names one run.
UID_BASE, UID_SPAN = 1_500_000_000, 500_000_000
# The host's software directories a namespaced run sees (read-only); nothing else of the host.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


@dataclass(frozen=True)
class Plan:
    """One way of isolating runs."""

    namespaces: bool  # unshare net/pid/mnt/ipc/uts: no network, private /tmp, one PID tree
    userns: bool  # the namespaces sit in a user namespace (not root)
    dedicated_uid: bool  # each run gets its own unprivileged uid (needs root)
    cgroups: cgroup.CgroupRoots | None  # per-run pids + memory groups
    why_weaker: str = ""  # what a stronger plan failed with

    def describe(self) -> str:
        parts = []
        if self.namespaces:
            parts += (["userns"] if self.userns else []) + ["netns", "pidns", "mntns", "ipcns", "utsns"]
        if self.dedicated_uid:
            parts.append("uid")
        if self.cgroups is not None:
            parts.append("cgroup")
        if not parts:
            return f"rlimits-only: {self.why_weaker or 'no stronger isolation tried'}"
        text = "+".join(parts + ["rlimits"])
        return f"{text} ({self.why_weaker})" if self.why_weaker else text

    def nproc(self, limits: Limits) -> int | None:
        """RLIMIT_NPROC for the child. It counts every task of the child's real
        uid machine-wide, so it is exact only with a dedicated uid; a root child
        ignores it; otherwise it is the uid's current count plus the budget."""
        if self.dedicated_uid:
            return limits.max_tasks
        if os.geteuid() == 0:
            return None
        return _tasks_of_uid(os.getuid()) + limits.max_tasks


def candidate_plans() -> list[Plan]:
    """Plans to try, strongest first."""
    if os.environ.get(FORCE_ENV, "auto") == "rlimits":
        return [Plan(False, False, False, None, f"forced by {FORCE_ENV}=rlimits")]
    if os.geteuid() != 0:
        return [Plan(True, True, False, None), Plan(False, False, False, None)]
    roots = cgroup.find_roots()
    return [Plan(True, False, True, roots), Plan(False, False, True, roots), Plan(False, False, False, roots)]


def weakened(plan: Plan, failures: list[str]) -> Plan:
    """``plan`` noting why the stronger plans before it were not used."""
    return replace(plan, why_weaker=plan.why_weaker or "; ".join(failures))


def fresh_uid() -> int:
    """An unused uid for one run (random: concurrent harnesses must not share one)."""
    return UID_BASE + secrets.randbelow(UID_SPAN)


def visible_paths(interpreter: list[str]) -> list[str]:
    """What a namespaced run sees of the host, read-only: the system's software
    directories (a top-level symlink such as /lib -> usr/lib stays a symlink)
    and the interpreter's own install, with nested entries dropped."""
    paths = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    for path in interpreter:
        real = os.path.realpath(path)
        if os.path.isdir(real) and real not in paths:
            paths.append(real)
    under = lambda d, o: d != o and d.startswith(o.rstrip("/") + "/") and not os.path.islink(o)  # noqa: E731
    return [p for p in paths if not any(under(p, o) for o in paths)]


def _tasks_of_uid(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count

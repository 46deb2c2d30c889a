"""Resource limits of one sandboxed run, and the rlimits they become."""
from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one program may use; every run gets a fresh copy of these budgets."""

    timeout_s: float = 10.0  # wall clock, from spawn to exit (with cpu_s set: only a backstop)
    memory_mb: int = 1024  # address space per process (RLIMIT_AS); the cgroup caps the total
    max_output_bytes: int = 1_000_000  # stdout + stderr together; more kills the run
    max_tasks: int = 64  # processes + threads (RLIMIT_NPROC and pids.max both count threads)
    max_open_files: int = 256
    max_file_mb: int = 32  # largest single file (RLIMIT_FSIZE)
    tmpfs_mb: int = 64  # size of the private /tmp when a mount namespace is available
    # CPU-time budget per process (RLIMIT_CPU, whole seconds, rounded up). A verdict
    # that must not depend on machine load sets it, with timeout_s well above as
    # the wall-clock backstop (a program that sleeps uses no CPU).
    cpu_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_mb", "max_output_bytes", "max_tasks",
                     "max_open_files", "max_file_mb", "tmpfs_mb"):
            if not getattr(self, name) > 0:
                raise ValueError(f"sandbox limit {name} must be positive, got {getattr(self, name)!r}")
        if self.cpu_s is not None and not (self.cpu_s > 0 and math.isfinite(self.cpu_s)):
            raise ValueError(f"sandbox limit cpu_s must be positive, got {self.cpu_s!r}")

    @property
    def cpu_seconds(self) -> int:
        """CPU-time budget. Without ``cpu_s``: a second over the wall budget, so a
        single-threaded loop hits the wall timeout first and only many spinning
        threads (which burn CPU time faster than wall time) hit SIGXCPU."""
        if self.cpu_s is not None:
            return math.ceil(self.cpu_s)
        return math.ceil(self.timeout_s) + 1

    @property
    def cgroup_memory_bytes(self) -> int:
        """Total memory of all the run's processes; tmpfs pages are charged to
        the cgroup too, so the private /tmp is added on top."""
        return (self.memory_mb + self.tmpfs_mb) * MIB

    def rlimits(self, nproc: int | None) -> list[tuple[str, int, int]]:
        """(resource name, soft, hard) for the sandbox to apply before the program starts.

        ``nproc`` is None where RLIMIT_NPROC would not work (a root child
        ignores it), so it is left alone there.
        """
        table = [
            ("RLIMIT_CPU", self.cpu_seconds, self.cpu_seconds + 1),
            ("RLIMIT_AS", self.memory_mb * MIB, self.memory_mb * MIB),
            ("RLIMIT_FSIZE", self.max_file_mb * MIB, self.max_file_mb * MIB),
            ("RLIMIT_NOFILE", self.max_open_files, self.max_open_files),
            ("RLIMIT_CORE", 0, 0),  # a segfault must not leave (or pipe out) a core dump
        ]
        if nproc is not None:
            table.append(("RLIMIT_NPROC", nproc, nproc))
        return table

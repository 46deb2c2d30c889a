"""The verdict on one sandboxed run, and the pure rules that reach it."""
from __future__ import annotations

import builtins
import os
import re
import signal
from dataclasses import dataclass

PASSED, FAILED, TIMEOUT, ERROR, KILLED = "passed", "failed", "timeout", "error", "killed"


@dataclass(frozen=True)
class ExecResult:
    """What happened when one program ran in the sandbox."""

    status: str  # "passed" | "failed" | "timeout" | "error" (the harness could not run it) | "killed"
    returncode: int | None  # exit status; negative: the signal that ended it; None: never started
    stdout: str  # decoded as UTF-8 with replacement, at most max_output_bytes
    stderr: str
    duration_s: float  # spawn to exit, wall clock
    reason: str  # one human-readable line: "AssertionError", "timeout after 3s", "memory limit", ...
    isolation: str  # how the run was isolated, e.g. "netns+pidns+mntns+ipcns+utsns+uid+cgroup+rlimits"
    cpu_s: float | None = None  # CPU time the run's processes used (None where no PID namespace reports it)

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def error_text(self) -> str:
        """The last line of the program's last traceback, at most 200 characters.
        The program's own words, like its stdout: tool feedback for a model may
        show it; ``reason`` never copies it."""
        at = self.stderr.rfind("Traceback (most recent call last):")
        lines = [line for line in self.stderr[at:].splitlines() if line.strip()] if at >= 0 else []
        return lines[-1].strip()[:200] if len(lines) > 1 else ""


@dataclass(frozen=True)
class Outcome:
    """The raw facts the harness observed about one run, before judging it."""

    returncode: int | None
    finished: bool  # the launcher wrote this run's nonce: the program ran to its end
    timed_out: bool = False
    output_overflow: bool = False
    oom_killed: bool = False  # the memory cgroup's OOM killer fired
    setup_error: str = ""  # the zygote could not build the sandbox
    cpu_exceeded: bool = False  # the run used its whole CPU-time budget (killed at the hard rlimit)
    stderr_tail: str = ""


def classify(o: Outcome, timeout_s: float) -> tuple[str, str]:
    """(status, reason) for a run. Limits the harness enforced come first,
    because a killed program's exit status says nothing about the program."""
    if o.setup_error:
        return ERROR, f"sandbox setup failed: {o.setup_error}"
    if o.timed_out:
        return TIMEOUT, f"timeout after {timeout_s:g}s"
    if o.output_overflow:
        return KILLED, "output limit"
    if o.oom_killed:
        return KILLED, "memory limit"
    if o.cpu_exceeded and o.returncode != 0:
        return TIMEOUT, "cpu time limit"
    rc = o.returncode
    if rc is not None and rc < 0:
        return _by_signal(-rc)
    if rc == 0:
        if o.finished:
            return PASSED, ""
        # sys.exit(0), os._exit(0) or an atexit trick before the program's end
        return FAILED, "exited with status 0 before the program finished"
    return FAILED, _exception_line(o.stderr_tail) or f"exit status {rc}"


def _by_signal(signum: int) -> tuple[str, str]:
    if signum == signal.SIGXCPU:
        return TIMEOUT, "cpu time limit"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return KILLED, f"killed by {name}"


def _exception_line(stderr: str) -> str:
    """The class of the last traceback's exception in stderr, or ''.

    Only a traceback counts: a program's own stderr chatter is not a reason.
    stderr is the program's to write, so nothing of its text is copied: the
    reason names a builtin exception class (anything else is "uncaught
    exception"), and an OSError's errno is spelled by this side's strerror.
    A program can still pick which of these few words it fails with, no more.
    """
    at = stderr.rfind("Traceback (most recent call last):")
    if at < 0:
        return ""
    lines = [line for line in stderr[at:].splitlines() if line.strip()]
    last = lines[-1].strip() if len(lines) > 1 else ""
    name, _, message = last.partition(":")
    return trusted_error_name(name.strip(), message)


_BUILTIN_ERRORS = {name: cls for name, cls in vars(builtins).items()
                   if isinstance(cls, type) and issubclass(cls, BaseException)}
_ERRNO = re.compile(r"\s*\[Errno (\d{1,4})\]")


def trusted_error_name(name: str, message: str = "") -> str:
    """A reason for an exception the program reports by name: the builtin class
    name, "memory limit", or "uncaught exception"; never the program's text."""
    cls = _BUILTIN_ERRORS.get(name)
    if cls is None:
        return "uncaught exception" if name else ""
    if cls is MemoryError:
        return "memory limit"
    errno = _ERRNO.match(message) if issubclass(cls, OSError) else None
    if errno:
        return f"{name}: [Errno {errno.group(1)}] {os.strerror(int(errno.group(1)))}"
    return name

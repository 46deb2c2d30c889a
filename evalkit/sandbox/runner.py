"""Running untrusted Python programs: one at a time or in a bounded pool.

Each run is a separate process tree, never an exec() in the harness:

    harness -> zygote (a warm, privileged interpreter; see _bootstrap)
            -> [fork] outer process: own session, cgroup, new net/pid/mount/ipc/uts namespaces
            -> [fork] PID 1 of the namespace: mounts, reaps -> [fork] the program (fresh uid, rlimits)

The program gets a fresh directory as cwd (a size-capped tmpfs mounted as
/tmp when a mount namespace is available), HOME and TMPDIR inside it, an
environment built from scratch (nothing of the harness's), stdin from
/dev/null or the given text, and its own session. Output is read in chunks
with a byte cap; a program over the cap, over the wall clock, or done is
followed by a sweep that SIGKILLs its process group and its cgroup members
(without a cgroup: every process of its uid), so daemons that called setsid()
die too.

The zygote runs with ``-s -S -B -P`` (``-P`` from 3.11) rather than ``-I``: ``-I`` also
implies ``-E``, which would ignore PYTHONHASHSEED=0 and make set/dict order of
strings differ between runs; the environment is built from scratch here, so
``-E`` has nothing left to protect against.
"""
from __future__ import annotations

import functools
import importlib.util
import marshal
import os
import selectors
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.sandbox import cgroup, reap, sweep
from evalkit.sandbox.isolation import FORCE_ENV, Plan, candidate_plans, fresh_uid, visible_paths, weakened
from evalkit.sandbox.limits import Limits
from evalkit.sandbox.result import ERROR, ExecResult, Outcome, classify
from evalkit.sandbox.zygote import Pool, Run

_HERE = Path(__file__).resolve().parent
# The base interpreter, not the venv's wrapper: the sandbox needs only the
# stdlib, and the venv's files need not be readable there.
_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
# -P (3.11+) keeps the cwd off sys.path, so files the program writes cannot shadow the stdlib
PYTHON_FLAGS = ["-s", "-S", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",  # same set/dict iteration order every run: same verdict every run
    "PYTHONIOENCODING": "utf-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}
_CHUNK = 1 << 16
_MAX_VERDICT_BYTES = 4096  # the result pipe carries a nonce or a setup error, nothing long
_STDERR_TAIL = 8192
_PROBE_LIMITS = Limits(timeout_s=20.0, memory_mb=512)

_ZYGOTES = Pool(_PYTHON, PYTHON_FLAGS, CHILD_ENV)
_plan_lock = threading.Lock()
_plan_cache: tuple[str | None, Plan] | None = None


def run_program(source: str, *, timeout_s: float = 10.0, memory_mb: int = 1024,
                max_output_bytes: int = 1_000_000, stdin: str | None = None,
                cpu_s: float | None = None, packages: tuple[str, ...] = ()) -> ExecResult:
    """Runs ``source`` as a Python program in a fresh sandbox.

    It passes only if it runs to its end and exits 0 (see ``_launcher``);
    failures of the program are results, not exceptions. ``cpu_s`` limits CPU
    time (a verdict independent of machine load); ``timeout_s`` is then only
    the wall-clock backstop, and should be well above it. ``packages`` names
    installed packages (e.g. ``("sympy", "mpmath")``) the program may import,
    seen read-only; by default it has the standard library only.
    """
    limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, max_output_bytes=max_output_bytes, cpu_s=cpu_s)
    return execute(source, limits, current_plan(), stdin, packages)


def run_many(sources: list[str], *, workers: int | None = None, **limits: Any) -> list[ExecResult]:
    """``run_program`` over many sources, ``workers`` at a time (default: CPU count);
    results in input order."""
    if not sources:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(sources)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda source: run_program(source, **limits), sources))


def isolation_level() -> str:
    """The isolation every run gets on this machine, e.g. "netns+pidns+...+rlimits"."""
    return current_plan().describe()


def current_plan() -> Plan:
    """The strongest plan that works here, probed once per process (and again
    if EVALKIT_SANDBOX_ISOLATION changes)."""
    global _plan_cache
    forced = os.environ.get(FORCE_ENV)
    with _plan_lock:
        if _plan_cache is None:
            sweep.sweep()  # once per process: what a killed harness left
        if _plan_cache is None or _plan_cache[0] != forced:
            _plan_cache = (forced, _choose_plan())
        return _plan_cache[1]


def _choose_plan() -> Plan:
    failures: list[str] = []
    plans = candidate_plans()
    for plan in plans:
        probe = execute("print('ok')\n", _PROBE_LIMITS, plan, None)
        if probe.passed and probe.stdout == "ok\n":
            return weakened(plan, failures)
        detail = probe.stderr.strip().splitlines()[-1:] or [probe.reason]
        kind = "namespaces" if plan.namespaces else "dedicated uid" if plan.dedicated_uid else "plain run"
        failures.append(f"{kind} unavailable ({probe.reason}: {detail[0][:160]})")
    return weakened(plans[-1], failures)  # every run will report the error itself


def execute(source: str, limits: Limits, plan: Plan, stdin: str | None, packages: tuple[str, ...] = ()) -> ExecResult:
    """One run under an explicit plan and limits."""
    uid = fresh_uid() if plan.dedicated_uid else None
    host_dir = tempfile.mkdtemp(prefix=sweep.name_prefix())
    group = None
    try:
        program = os.path.join(host_dir, "main.py")
        Path(program).write_bytes(source.encode("utf-8", "replace"))
        if plan.cgroups is not None:
            group = cgroup.create(plan.cgroups, pids_max=limits.max_tasks, memory_bytes=limits.cgroup_memory_bytes)
        return _spawn_and_watch(program, host_dir, limits, plan, uid, group, stdin, packages)
    finally:
        if group is not None:
            cgroup.destroy(group)
        shutil.rmtree(host_dir, ignore_errors=True)


def _spawn_and_watch(program: str, host_dir: str, limits: Limits, plan: Plan, uid: int | None,
                     group: cgroup.RunGroup | None, stdin: str | None, packages: tuple[str, ...]) -> ExecResult:
    nonce = os.urandom(16).hex().encode()
    nonce_r, nonce_w = os.pipe()
    result_r, result_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdin_fd = os.open(_stdin_path(host_dir, stdin), os.O_RDONLY)
    config = _bootstrap_config(program, host_dir, limits, plan, uid, group, packages)
    started = time.monotonic()
    try:
        proc = _ZYGOTES.start(config, [stdin_fd, out_w, err_w, nonce_r, result_w], out_r, err_r)
    except OSError as exc:
        for fd in (nonce_w, result_r, out_r, err_r):
            os.close(fd)
        return ExecResult(ERROR, None, "", "", 0.0, f"could not start the sandbox: {exc}", plan.describe())
    finally:
        for fd in (stdin_fd, out_w, err_w, nonce_r, result_w):
            os.close(fd)  # the run holds its own copies
    sweep = _Sweep(proc, uid, group)
    try:
        try:
            os.write(nonce_w, nonce)  # 32 bytes: fits the pipe buffer, never blocks
        except BrokenPipeError:  # the sandbox died before reading it; _collect reports how
            pass
        finally:
            os.close(nonce_w)
        cap = _collect(proc, result_r, limits, started, on_exit=sweep, backstop=_Backstop(limits, proc, group))
    finally:
        survivors = sweep()
        proc.wait()
        os.close(result_r)
        proc.stdout.close()
        proc.stderr.close()
    return _judge(cap, proc.returncode, nonce, limits, plan, group, survivors)


def _bootstrap_config(program: str, host_dir: str, limits: Limits, plan: Plan, uid: int | None,
                      group: cgroup.RunGroup | None, packages: tuple[str, ...] = ()) -> bytes:
    """The zygote's instructions for one run, marshalled (it imports nothing to read them)."""
    dirs, sys_path = package_paths(packages)
    return marshal.dumps({
        "program": program, "workdir": host_dir, "namespaces": plan.namespaces, "userns": plan.userns, "uid": uid,
        "tmpfs_mb": limits.tmpfs_mb, "ro_paths": visible_paths([sys.base_prefix, os.path.dirname(_PYTHON), *dirs]),
        "sys_path": sys_path,
        "cgroup_procs": group.procs_files if group else [],
        "rlimits": limits.rlimits(plan.nproc(limits)), "env": dict(CHILD_ENV), "launcher": _launcher_source(),
    })


@functools.lru_cache(maxsize=None)
def package_paths(packages: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(package folders to bind read-only, folders to add to sys.path) for ``packages``.

    Only the named packages' own folders become visible, not the whole site-packages
    (so a program sees sympy, not the project's other dependencies)."""
    dirs, roots = [], []
    for name in packages:
        spec = importlib.util.find_spec(name)
        where = list(spec.submodule_search_locations or []) if spec else []
        if not where:
            raise ValueError(f"sandbox package {name!r} is not an installed package folder; install it "
                             f"(pip install {name}) or drop it from the tool's packages")
        dirs.append(os.path.realpath(where[0]))
        root = os.path.dirname(dirs[-1])
        if root not in roots:
            roots.append(root)
    return dirs, roots


@functools.lru_cache(maxsize=1)
def _launcher_source() -> str:
    return (_HERE / "_launcher.py").read_text()


def _stdin_path(host_dir: str, stdin: str | None) -> str:
    if stdin is None:
        return os.devnull
    path = os.path.join(host_dir, "stdin.txt")
    Path(path).write_text(stdin, encoding="utf-8")
    return path


@dataclass
class _Capture:
    """What the harness read from one run."""

    stdout: bytes
    stderr: bytes
    verdict: bytes  # the result pipe: the nonce, or SETUP:<error>
    timed_out: bool
    overflow: bool
    duration_s: float


class _Backstop:
    """The wall clock behind a CPU-time limit. At ``timeout_s`` a run that is
    still gaining CPU time (starved by a loaded machine, not sleeping) gets
    another slice, so load cannot turn a verdict into a timeout; RLIMIT_CPU
    ends it when its CPU budget is spent. A run that sleeps or blocks gains no
    CPU and ends at ``timeout_s``; nothing runs past ``EXTEND_CAP`` times it."""

    EXTEND_CAP = 10
    MIN_SHARE = 0.01  # CPU seconds per wall second that count as progress

    def __init__(self, limits: Limits, proc: Run, group: cgroup.RunGroup | None):
        self.limits, self.proc, self.group = limits, proc, group
        self.cpu = 0.0
        self.slice_start = time.monotonic()

    def extend(self, started: float) -> float | None:
        """A new deadline, or None when the run's time is up."""
        now = time.monotonic()
        if self.limits.cpu_s is None or now - started >= self.EXTEND_CAP * self.limits.timeout_s:
            return None
        pids = cgroup.members(self.group) if self.group is not None else reap.pids_in_session(self.proc.pid)
        used = reap.cpu_seconds(pids)
        progressing = used - self.cpu >= self.MIN_SHARE * (now - self.slice_start)
        self.cpu, self.slice_start = used, now
        return now + self.limits.timeout_s / 2 if progressing else None


def _collect(proc: Run, result_r: int, limits: Limits, started: float, on_exit: Any,
             backstop: _Backstop | None = None) -> _Capture:
    """Reads stdout, stderr and the result pipe until the run ends, the wall
    clock runs out or the output cap is hit. When the main process exits,
    ``on_exit`` kills whatever it left, so the pipes reach EOF promptly."""
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray(), result_r: bytearray()}
    deadline = started + limits.timeout_s
    sel = selectors.DefaultSelector()
    for fd in bufs:
        sel.register(fd, selectors.EVENT_READ)
    exit_fd = proc.exit_fd()  # readable the moment the run's exit status arrives
    sel.register(exit_fd, selectors.EVENT_READ)
    exited_at, timed_out, overflow = None, False, False
    try:
        while True:
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
                on_exit()
            pipes_open = any(key.fileobj is not exit_fd for key in sel.get_map().values())
            if exited_at is not None and not pipes_open:
                break
            left = deadline - time.monotonic()
            if left <= 0 and exited_at is None and backstop is not None:
                later = backstop.extend(started)
                if later is not None:
                    deadline = later
                    continue
            if left <= 0:
                timed_out = exited_at is None  # a pipe held open after exit is not the program's time
                break
            for key, _ in sel.select(left):
                if key.fileobj is exit_fd:
                    sel.unregister(exit_fd)  # poll() at the top of the loop takes it from here
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(key.fd)
                elif key.fd == result_r:
                    bufs[result_r] += chunk[: _MAX_VERDICT_BYTES - len(bufs[result_r])]
                else:
                    room = limits.max_output_bytes - len(bufs[out_fd]) - len(bufs[err_fd])
                    bufs[key.fd] += chunk[: max(room, 0)]
                    overflow = overflow or len(chunk) > room
            if overflow:
                break
    finally:
        sel.close()
    duration = (exited_at or time.monotonic()) - started
    return _Capture(bytes(bufs[out_fd]), bytes(bufs[err_fd]), bytes(bufs[result_r]), timed_out, overflow, duration)


def _signal_from_init(verdict: bytes, returncode: int | None) -> int | None:
    """The sandbox's PID 1 reports a program killed by signal N as exit status
    128+N plus "SIGNAL:N" on the result pipe; turn that back into -N."""
    head, _, signum = verdict.rpartition(b"SIGNAL:")
    if signum.isdigit() and returncode == 128 + int(signum):
        return -int(signum)
    return returncode


class _Sweep:
    """Kills what a run left, at its exit and again at the end; a clean sweep
    is final, since with no process left nothing can fork a new one."""

    def __init__(self, proc: Run, uid: int | None, group: cgroup.RunGroup | None):
        self.proc, self.uid, self.group = proc, uid, group
        self.survivors: list[int] | None = None

    def __call__(self) -> list[int]:
        if self.survivors != []:
            self.survivors = _kill_everything(self.proc, self.uid, self.group)
        return self.survivors


def _kill_everything(proc: Run, uid: int | None, group: cgroup.RunGroup | None) -> list[int]:
    """SIGKILLs the run's process group and its cgroup members (without a
    cgroup, its uid's processes); returns pids that would not die (normally none)."""
    reap.kill_group(proc.pid)
    if proc.poll() is None:
        proc.kill()
    listers = []
    if group is not None:
        # exact on its own: an unprivileged process cannot leave its cgroup,
        # and scanning /proc for the uid would cost every run milliseconds
        listers.append(lambda: cgroup.members(group))
    elif uid is not None:
        listers.append(lambda: reap.pids_of_uid(uid))
    return reap.kill_all(*listers) if listers else []


def _cpu_from_init(verdict: bytes) -> float | None:
    """The CPU seconds the sandbox's PID 1 reported ("CPU:<s>;"), if it did."""
    _, found, rest = verdict.rpartition(b"CPU:")
    value = rest.partition(b";")[0]
    try:
        return float(value) if found else None
    except ValueError:
        return None


def _judge(cap: _Capture, returncode: int | None, nonce: bytes, limits: Limits, plan: Plan,
           group: cgroup.RunGroup | None, survivors: list[int]) -> ExecResult:
    returncode = _signal_from_init(cap.verdict, returncode)
    cpu = _cpu_from_init(cap.verdict)
    stderr = cap.stderr.decode("utf-8", "replace")
    setup_error = cap.verdict[len(b"SETUP:"):].decode("utf-8", "replace")[:300] if cap.verdict.startswith(b"SETUP:") else ""
    outcome = Outcome(
        returncode=returncode,
        finished=nonce in cap.verdict and not setup_error,
        timed_out=cap.timed_out,
        output_overflow=cap.overflow,
        oom_killed=group is not None and cgroup.oom_killed(group),
        setup_error=setup_error,
        stderr_tail=stderr[-_STDERR_TAIL:],
        cpu_exceeded=limits.cpu_s is not None and cpu is not None and cpu >= limits.cpu_seconds,
    )
    status, reason = classify(outcome, limits.timeout_s)
    if survivors:
        reason += f"; {len(survivors)} process(es) survived SIGKILL: {survivors[:5]}"
    return ExecResult(status, returncode, cap.stdout.decode("utf-8", "replace"), stderr,
                      round(cap.duration_s, 4), reason, plan.describe(), cpu)

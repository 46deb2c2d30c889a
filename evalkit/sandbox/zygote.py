"""The harness's side of the zygotes (see ``_bootstrap``): start them, lend them out, talk to them.

A zygote serves one run at a time, so concurrent runs borrow one each from a
pool that grows to the concurrency it has seen and lives as long as the
harness process. A zygote whose socket breaks is dropped, and the next run
starts a fresh one.
"""
from __future__ import annotations

import atexit
import os
import select
import signal
import socket
import struct
import subprocess
import threading
from pathlib import Path

_BOOTSTRAP = str(Path(__file__).resolve().parent / "_bootstrap.py")
_START_LIMIT_S = 60.0  # a zygote's first answer on a loaded machine


class ZygoteError(OSError):
    """A zygote could not be started or stopped answering."""


class Zygote:
    """One zygote process and its control socket."""

    def __init__(self, python: str, flags: list[str], env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [python, *flags, _BOOTSTRAP, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, cwd="/", start_new_session=True)  # Ctrl-C in the terminal is the harness's to handle
        finally:
            theirs.close()
        self.sock = ours
        self._buf = b""

    def spawn(self, config: bytes, fds: list[int]) -> int:
        """Starts a run; returns the pid of its outer process."""
        try:
            socket.send_fds(self.sock, [struct.pack("!I", len(config))], fds)
            self.sock.sendall(config)
        except OSError as exc:
            raise ZygoteError(f"sandbox zygote is gone: {exc}") from None
        return self.read_int(_START_LIMIT_S)

    def read_int(self, timeout_s: float | None) -> int:
        """The zygote's next answer (a pid, or an exit status)."""
        while b"\n" not in self._buf:
            if timeout_s is not None and not select.select([self.sock], [], [], timeout_s)[0]:
                raise ZygoteError("sandbox zygote did not answer")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ZygoteError("sandbox zygote died")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return int(line)

    def answered(self) -> bool:
        return b"\n" in self._buf or bool(select.select([self.sock], [], [], 0)[0])

    def close(self) -> None:
        self.sock.close()  # EOF: the zygote kills what it runs and exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Run:
    """A started run, shaped like the part of ``subprocess.Popen`` the runner uses."""

    def __init__(self, zygote: Zygote, pid: int, stdout_fd: int, stderr_fd: int, release):
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None
        self.stdout, self.stderr = os.fdopen(stdout_fd, "rb", 0), os.fdopen(stderr_fd, "rb", 0)
        self._release = release

    def exit_fd(self) -> socket.socket:
        """Readable once the run's exit status has arrived."""
        return self.zygote.sock

    def poll(self) -> int | None:
        if self.returncode is None and self.zygote.answered():
            self._finish()
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self._finish()
        assert self.returncode is not None  # _finish always sets it
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _finish(self) -> None:
        try:
            self.returncode = self.zygote.read_int(None)
            self._release(self.zygote, healthy=True)
        except (ZygoteError, ValueError, OSError):
            self.returncode = -signal.SIGKILL  # the zygote died with the run; the run is over too
            self._release(self.zygote, healthy=False)


class Pool:
    """Idle zygotes for one interpreter, flags and environment."""

    def __init__(self, python: str, flags: list[str], env: dict[str, str]):
        self._args = (python, flags, env)
        self._idle: list[Zygote] = []
        self._lock = threading.Lock()
        atexit.register(self.close)
        os.register_at_fork(after_in_child=self._forget)

    def start(self, config: bytes, fds: list[int], stdout_fd: int, stderr_fd: int) -> Run:
        """Starts a run on an idle (or new) zygote."""
        with self._lock:
            zygote = self._idle.pop() if self._idle else None
        if zygote is None:
            zygote = Zygote(*self._args)
        try:
            pid = zygote.spawn(config, fds)
        except (ZygoteError, ValueError):
            zygote.close()
            raise
        return Run(zygote, pid, stdout_fd, stderr_fd, self._give_back)

    def _give_back(self, zygote: Zygote, healthy: bool) -> None:
        if healthy:
            with self._lock:
                self._idle.append(zygote)
        else:
            zygote.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for zygote in idle:
            zygote.close()

    def _forget(self) -> None:
        """A forked harness must not share its parent's zygotes (or a held lock)."""
        for zygote in self._idle:
            zygote.sock.close()
        self._idle, self._lock = [], threading.Lock()

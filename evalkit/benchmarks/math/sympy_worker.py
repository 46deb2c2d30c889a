"""The sympy worker: a persistent child process for the comparisons that need sympy.

Sympy can hang or eat memory on pathological input and no thread can be
interrupted, so sympy runs in a child that the grader kills and replaces when
it overruns. This file is also the child's main program.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

from evalkit.benchmarks.math.numbers import REL_TOL, _terminates

log = logging.getLogger("evalkit.math")
WORKER_START_LIMIT_S = 60.0  # importing sympy on a loaded machine; not charged to a comparison


class _SympyWorker:
    """A persistent child Python that runs sympy comparisons, one at a time.

    A child process (not multiprocessing) because it can be killed from any
    thread, and daemonic pool workers may start one. A process that forks
    forgets the parent's worker and starts its own when it needs one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._buf = b""

    def forget(self) -> None:
        """In a forked child: drop the parent's worker (and a lock some thread may hold)."""
        if self._proc is not None:
            for pipe in (self._proc.stdin, self._proc.stdout):
                assert pipe is not None  # both are PIPE in _spawn
                pipe.close()  # only this process's copies; the parent keeps its worker
        _SympyWorker.__init__(self)

    def compare(self, pred: str, gold: str, deadline: float) -> str:
        """'equal', 'different', 'timeout' or 'error: ...'."""
        with self._lock:
            if not self._ensure_ready():
                return "error: sympy worker did not start"
            if time.monotonic() >= deadline:
                return "timeout"
            assert self._proc is not None and self._proc.stdin is not None  # _ensure_ready started it
            try:
                self._proc.stdin.write(json.dumps({"p": pred, "g": gold}).encode() + b"\n")
                self._proc.stdin.flush()
            except OSError:
                self._restart()
                return "error: sympy worker died"
            reply = self._read_line(deadline)
            if reply is None:
                died = self._proc.poll() is not None
                self._restart()
                return "error: sympy worker died" if died else "timeout"
            return json.loads(reply).get("verdict", "error: bad reply")

    def _spawn(self) -> None:
        root = str(Path(__file__).resolve().parents[3])
        code = ("import runpy, sys; sys.path.insert(0, %r); runpy.run_path(%r, run_name='__main__')"
                % (root, str(Path(__file__).resolve())))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, close_fds=True)
        self._ready, self._buf = False, b""

    def _ensure_ready(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            self._spawn()
        if not self._ready:
            line = self._read_line(time.monotonic() + WORKER_START_LIMIT_S)
            self._ready = line is not None and json.loads(line).get("ready", False)
            if not self._ready:
                log.warning("math grader: sympy worker failed to start: %s", line)
                self._kill()
        return self._ready

    def _read_line(self, deadline: float) -> bytes | None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None  # the worker died
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                assert pipe is not None  # both are PIPE in _spawn
                pipe.close()
        self._proc = None

    def _restart(self) -> None:
        """Replace the worker now, so it imports sympy while the caller moves on."""
        self._kill()
        self._spawn()

    def close(self) -> None:
        with self._lock:
            self._kill()


_WORKER = _SympyWorker()
atexit.register(_WORKER.close)
os.register_at_fork(after_in_child=_WORKER.forget)


def _exact(expr):
    """expr with decimals as exact rationals (3.0001 -> 30001/10000), and whether it had any."""
    import sympy

    floats = expr.atoms(sympy.Float)
    return expr.xreplace({f: sympy.Rational(str(f)) for f in floats}), bool(floats)


def _sympy_terminates(x) -> bool:
    return bool(x.is_Rational) and _terminates(Fraction(int(x.p), int(x.q)))


def _sympy_equal(a, b) -> bool:
    """Exact symbolic equality, or REL_TOL closeness where a decimal approximates."""
    import sympy

    if a == b or not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return a == b
    (a, fa), (b, fb) = _exact(a), _exact(b)
    diff = sympy.simplify(a - b)
    if diff == 0:
        return True
    if diff.free_symbols or a.free_symbols or b.free_symbols:
        return False
    va, vb = sympy.N(a, 30), sympy.N(b, 30)
    if not (va.is_number and vb.is_number and va.is_finite and vb.is_finite):
        return False  # infinities are equal only structurally, checked above
    scale = max(abs(va), abs(vb), 1)
    if abs(va - vb) <= sympy.Float("1e-25") * scale:  # an identity simplify missed
        return True
    approx = (fa and not _sympy_terminates(b)) or (fb and not _sympy_terminates(a))
    return bool(approx and abs(va - vb) <= float(REL_TOL) * max(abs(va), abs(vb)))


def _to_sympy(s: str):
    import sympy
    from latex2sympy2_extended import NormalizationConfig, latex2sympy

    config = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True,
                                 nits=False, boxed="none")
    expr = latex2sympy(s, normalization_config=config)
    expr = expr.doit() if hasattr(expr, "doit") else expr
    # MATH writes the imaginary unit as i; no answer uses i as a variable.
    return expr.subs(sympy.Symbol("i"), sympy.I) if isinstance(expr, sympy.Basic) else expr


def _serve() -> None:
    """Worker main loop: one JSON request per stdin line, one reply per line."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints cannot corrupt replies
    try:
        import resource

        soft = 3 << 30  # a runaway computation hits MemoryError, not the machine
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (soft if hard < 0 else min(soft, hard), hard))
        _sympy_equal(_to_sympy("x^2-1"), _to_sympy("(x-1)(x+1)"))  # import and warm parser, simplify
    except Exception as e:  # noqa: BLE001 - reported to the parent, which logs it
        out.write(json.dumps({"ready": False, "error": repr(e)}) + "\n")
        out.flush()
        return
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            same = _sympy_equal(_to_sympy(req["p"]), _to_sympy(req["g"]))
            verdict = "equal" if same else "different"
        except Exception as e:  # noqa: BLE001 - unparsable or unsupported: not equal
            verdict = "different" if not isinstance(e, MemoryError) else "error: out of memory"
        out.write(json.dumps({"verdict": verdict}) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()

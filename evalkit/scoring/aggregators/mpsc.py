"""MPSC: Multi-Perspective Self-Consistency (Huang et al. 2023, "Enhancing Large
Language Models in Coding Through Multi-Perspective Self-Consistency").

For one problem the model gives three perspectives: solutions, specifications
(``def postcondition(*inputs, output): assert ...``) and test cases
(``assert f(x) == y``). They are the vertices of a 3-partite graph whose
edges weigh how far two vertices agree (inter-consistency), found by running
code in the sandbox:

* solution - test: 1 when the solution passes the test;
* solution - spec: the fraction of test inputs on which the postcondition holds
  for the solution's output;
* spec - test: 1 when the postcondition accepts the test's expected output.

Intra-consistency gives the prior ``y0``: solutions that agree on every test
input (structural equivalence by outputs) share their class's share of the
samples, a Bayes-risk style vote; specs and tests start uniform. Solutions are
ranked by the paper's iteration on the normalised adjacency
``f <- (1 - alpha) * y0 + alpha * D^-1/2 W D^-1/2 f`` until it converges.

The graph part is pure (``rank``, ``build_graph``); ``consistency_programs``
and ``parse_consistency`` are the sandbox side, used by the code evaluator.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from evalkit.scoring.aggregators.base import Aggregate, Equiv
from evalkit.core.errors import ConfigError
from evalkit.core.registry import aggregators

ALPHA = 0.95  # the paper's default weight of the propagated score
CALL_TIMEOUT_S = 1.0  # CPU seconds per call of a solution or spec inside a consistency program
CALL_WALL_S = 10.0  # wall-clock backstop per call (a call that sleeps uses no CPU)


def rank(W: np.ndarray, y0: np.ndarray, alpha: float = ALPHA, iters: int = 200, tol: float = 1e-9) -> np.ndarray:
    """Scores of every vertex: the fixed point of f = (1-a)·y0 + a·W̃f, W̃ = D^-1/2 W D^-1/2.

    Isolated vertices (degree 0) keep (1-a)·y0. Converges for 0 <= a < 1
    because W̃'s spectral radius is at most 1.
    """
    W = np.asarray(W, dtype=float)
    y0 = np.asarray(y0, dtype=float)
    deg = W.sum(axis=1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    Wn = inv[:, None] * W * inv[None, :]
    f = y0.copy()
    for _ in range(iters):
        nxt = (1 - alpha) * y0 + alpha * Wn @ f
        if np.abs(nxt - f).max() < tol:
            return nxt
        f = nxt
    return f


@dataclass
class Consistency:
    """What the sandbox found for one problem's perspectives."""

    sol_test: np.ndarray  # (solutions, tests): 1 when the solution passes the test
    sol_spec: np.ndarray  # (solutions, specs): fraction of test inputs the spec accepts
    spec_test: np.ndarray  # (specs, tests): 1 when the spec accepts the test's pair
    outputs: list[tuple[str, ...]]  # per solution: repr of its output on each test input


def build_graph(c: Consistency) -> tuple[np.ndarray, np.ndarray]:
    """(W, y0) over vertices [solutions, specs, tests], in that order."""
    n, m, t = c.sol_test.shape[0], c.sol_spec.shape[1], c.sol_test.shape[1]
    size = n + m + t
    W = np.zeros((size, size))
    W[:n, n + m:] = c.sol_test
    W[:n, n:n + m] = c.sol_spec
    W[n:n + m, n + m:] = c.spec_test
    W = W + W.T
    y0 = np.ones(size) / max(size, 1)
    y0[:n] = solution_prior(c.outputs)
    return W, y0


def solution_prior(outputs: Sequence[tuple[str, ...]]) -> np.ndarray:
    """Each solution's share of the samples that behave exactly as it does."""
    n = len(outputs)
    return np.array([sum(o == other for other in outputs) / n for o in outputs]) if n else np.zeros(0)


def pick(c: Consistency, alpha: float = ALPHA) -> tuple[int, list[float]]:
    """(index of the top solution, every solution's score); ties go to the earlier sample."""
    W, y0 = build_graph(c)
    n = c.sol_test.shape[0]
    scores = rank(W, y0, alpha)[:n]
    best = max(range(n), key=lambda i: (round(float(scores[i]), 12), -i))
    return best, [float(s) for s in scores]


# --- parsing the model's specs and tests -------------------------------------------------

def parse_tests(texts: Sequence[str], entry_point: str, limit: int = 50) -> list[str]:
    """Distinct ``assert entry_point(args) == expected`` lines that parse, in order."""
    out: list[str] = []
    head = f"assert {entry_point}("
    for text in texts:
        body = text if text.lstrip().startswith("assert") or "```" in text else head + text
        for line in _code(body).splitlines():
            line = line.strip()
            if line.startswith(head) and line not in out and test_parts(line, entry_point):
                out.append(line)
    return out[:limit]


def test_parts(line: str, entry_point: str) -> tuple[str, str] | None:
    """(source of the call's argument tuple, source of the expected value), or None."""
    try:
        node = ast.parse(line).body[0]
        if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
            return None
        cmp = node.test
        call = cmp.left
        if (len(cmp.ops) != 1 or not isinstance(cmp.ops[0], ast.Eq) or not isinstance(call, ast.Call)
                or not isinstance(call.func, ast.Name) or call.func.id != entry_point or call.keywords):
            return None
        args = "(" + "".join(ast.unparse(a) + ", " for a in call.args) + ")"
        return args, ast.unparse(cmp.comparators[0])
    except (SyntaxError, IndexError, ValueError, RecursionError, MemoryError):
        # a model's test line nested or chained too deep for the parser is just not a test
        return None


_SPEC_DEF = re.compile(r"^def\s+postcondition\s*\(", re.M)


def parse_specs(texts: Sequence[str], limit: int = 20) -> list[str]:
    """Distinct ``postcondition`` definitions that compile, each renamed to stand alone."""
    out: list[str] = []
    for text in texts:
        code = _code(text)
        if not _SPEC_DEF.search(code):
            code = "def postcondition(" + code
        m = _SPEC_DEF.search(code)
        assert m is not None
        lines = code[m.start():].splitlines()
        body = [lines[0]] + [ln for ln in _take_while_indented(lines[1:])]
        src = "\n".join(body).rstrip() + "\n"
        try:
            compile(src, "<spec>", "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if src not in out:
            out.append(src)
    return out[:limit]


def _take_while_indented(lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        if ln.strip() and not ln[0].isspace():
            break
        out.append(ln)
    return out


def _code(text: str) -> str:
    m = re.search(r"```[ \t]*(?:python|py)?[^\n]*\n(.*?)(?:```|\Z)", text, re.S)
    return m.group(1) if m else text


# --- the sandbox side ----------------------------------------------------------------------

# Each call is limited in CPU time (ITIMER_PROF), so a loaded machine does not
# change the graph; the wall-clock timer only stops calls that sleep or block.
_HARNESS = '''
import json as _j, signal as _s
def _alarm(*_): raise TimeoutError()
_s.signal(_s.SIGPROF, _alarm)
_s.signal(_s.SIGALRM, _alarm)
def _timed(fn, *a):
    _s.setitimer(_s.ITIMER_PROF, {timeout})
    _s.setitimer(_s.ITIMER_REAL, {wall})
    try:
        return fn(*a)
    finally:
        _s.setitimer(_s.ITIMER_PROF, 0)
        _s.setitimer(_s.ITIMER_REAL, 0)
'''


def solution_program(prompt: str, completion: str, entry_point: str, tests: list[str], specs: list[str]) -> str:
    """A program printing, for one solution, its outputs on the test inputs,
    which tests it passes and, per spec, on how many inputs the spec holds."""
    parts = [test_parts(t, entry_point) for t in tests]
    inputs = "[" + ", ".join(p[0] for p in parts if p) + "]"
    expected = "[" + ", ".join(p[1] for p in parts if p) + "]"
    spec_fns = "".join(f"def _spec{i}():\n" + _indent(s) + "    return postcondition\n" for i, s in enumerate(specs))
    return (
        prompt + completion + "\n" + _HARNESS.format(timeout=CALL_TIMEOUT_S, wall=CALL_WALL_S) + spec_fns
        + f"_specs = [{', '.join(f'_spec{i}()' for i in range(len(specs)))}]\n"
        + "_res = {'outputs': [], 'tests': [], 'specs': [0] * len(_specs)}\n"
        + "_ok = True\n"
        + f"try:\n    _inputs = {inputs}\n    _expected = {expected}\nexcept Exception:\n    _inputs, _expected = [], []\n"
        + "for _x, _y in zip(_inputs, _expected):\n"
        + "    try:\n"
        + f"        _o = _timed({entry_point}, *_x)\n"
        + "        _res['outputs'].append(repr(_o)); _res['tests'].append(int(_o == _y))\n"
        + "    except BaseException as _e:\n"
        + "        _res['outputs'].append('<' + type(_e).__name__ + '>'); _res['tests'].append(0); continue\n"
        + "    for _k, _p in enumerate(_specs):\n"
        + "        try:\n"
        + "            _timed(_p, *_x, _o); _res['specs'][_k] += 1\n"
        + "        except BaseException:\n"
        + "            pass\n"
        + "print('MPSC' + _j.dumps(_res))\n"
    )


def spec_test_program(prompt: str, entry_point: str, tests: list[str], specs: list[str]) -> str:
    """A program printing, per spec, which (input, expected) test pairs it accepts."""
    parts = [p for t in tests if (p := test_parts(t, entry_point))]
    rows = [f"def _spec{i}():\n" + _indent(spec) + "    return postcondition\n" for i, spec in enumerate(specs)]
    checks = "\n".join(
        f"try:\n    _res[{i}].append(int(_check(_spec{i}(), {args}, {exp})))\nexcept BaseException:\n    _res[{i}].append(0)"
        for i in range(len(specs)) for args, exp in parts)
    return (
        prompt + "    pass\n" + _HARNESS.format(timeout=CALL_TIMEOUT_S, wall=CALL_WALL_S) + "".join(rows)
        + "def _check(p, x, y):\n    _timed(p, *x, y)\n    return True\n"
        + f"_res = [[] for _ in range({len(specs)})]\n" + checks + "\n"
        + "print('MPSC' + _j.dumps(_res))\n"
    )


def _indent(src: str) -> str:
    return "".join("    " + ln + "\n" for ln in src.splitlines())


def _payload(stdout: str) -> Any:
    """The last MPSC line's JSON, or None. The program wrote it, so it is only
    data: anything malformed is a crashed program, never the run's error."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("MPSC"):
            try:
                return json.loads(line[4:])
            except (ValueError, RecursionError):
                return None
    return None


def _flags(values: Any, size: int) -> list[float] | None:
    """``values`` as ``size`` numbers in [0, 1], or None when it is anything else."""
    if not isinstance(values, list) or len(values) != size:
        return None
    if not all(type(v) in (int, float) and 0 <= v <= 1 for v in values):
        return None
    return [float(v) for v in values]


def _solution_row(res: Any, n_tests: int, specs: int) -> tuple[list[float], list[float], tuple[str, ...]] | None:
    """(tests passed, spec counts, output reprs) from one solution program's payload, validated."""
    if not isinstance(res, dict):
        return None
    tests = _flags(res.get("tests"), n_tests)
    counts = res.get("specs")
    outputs = res.get("outputs")
    if tests is None or not isinstance(counts, list) or len(counts) != specs:
        return None
    if not all(type(c) is int and 0 <= c <= n_tests for c in counts):
        return None
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        return None
    return tests, [float(c) for c in counts], tuple(o[:1000] for o in outputs)


def consistency(n_tests: int, specs: int, sol_stdouts: Sequence[str], spec_stdout: str) -> Consistency:
    """Edge weights from the stdout of each solution program and of the spec-test program.
    A program that crashed, timed out or printed a malformed payload gives a
    solution (or spec) with no edges."""
    n = len(sol_stdouts)
    sol_test = np.zeros((n, n_tests))
    sol_spec = np.zeros((n, specs))
    outputs: list[tuple[str, ...]] = []
    for i, out in enumerate(sol_stdouts):
        row = _solution_row(_payload(out), n_tests, specs)
        if row is None:
            outputs.append(("<crashed>",))
            continue
        sol_test[i] = row[0]
        if n_tests:
            sol_spec[i] = np.array(row[1]) / n_tests
        outputs.append(row[2])
    spec_test = np.zeros((specs, n_tests))
    res = _payload(spec_stdout)
    rows = [_flags(r, n_tests) for r in res] if isinstance(res, list) and len(res) == specs else None
    if rows and all(r is not None for r in rows):
        spec_test = np.array(rows, dtype=float).reshape(specs, n_tests)
    return Consistency(sol_test, sol_spec, spec_test, outputs)


@aggregators.register("mpsc")
def mpsc(extracted: Sequence[Any], scores: Sequence[float], equiv: Equiv, metric: str) -> Aggregate:
    """Registered so ``--aggregate mpsc`` is a known name; only the code
    evaluator (``output_type: code_exec``) can gather MPSC's perspectives."""
    raise ConfigError("--aggregate mpsc needs a code task (output_type code_exec, e.g. humaneval)")

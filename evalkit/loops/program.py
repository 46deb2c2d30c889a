"""Run a model's program and read one value from it: the ``answer`` variable of
a program of thought (CRITIC) or the return value of ``solution()`` (PAL).

The program runs in the sandbox through its public ``run_many``; the value
comes back as text on the last marked stdout line and is parsed here, on the
trusted side, with ``ast.literal_eval`` (never ``eval``). A value that is not a
Python literal (a sympy expression, say) is kept as its text.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from evalkit.loops.common import run_programs

MARK = "@@evalkit-value@@"
MAX_VALUE_CHARS = 2000  # a longer printed value is not an answer; keep its head


@dataclass(frozen=True)
class ProgramRun:
    """What one program gave: its value (None when it crashed or set none) and
    the interpreter's report, "Done" or the error line (the CRITIC tool text)."""

    value: Any
    report: str
    stdout: str  # what the program itself printed (the marker line removed)
    status: str


def with_readout(code: str, expr: str) -> str:
    """``code`` followed by lines that print ``expr`` behind MARK: Python
    literals as repr (parsed back below), anything else (Fraction, a sympy
    expression) as str, the form a grader reads."""
    return (f"{code.rstrip()}\n\n__evalkit_v = {expr}\n"
            f"print({MARK!r} + (repr(__evalkit_v) if isinstance(__evalkit_v, (int, float, complex, str, bytes, bool, "
            f"list, tuple, dict, set, type(None))) else str(__evalkit_v)))\n")


def parse_value(stdout: str) -> tuple[Any, str, bool]:
    """(value, the program's own output, found): the text after the last MARK."""
    at = stdout.rfind(MARK)
    if at < 0:
        return None, stdout, False
    own = stdout[:at]
    text = stdout[at + len(MARK):].split("\n", 1)[0].strip()[:MAX_VALUE_CHARS]
    try:
        return ast.literal_eval(text), own, True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text, own, True


def run_for_value(codes: list[str], expr: str, timeout_s: float = 10.0,
                  packages: tuple[str, ...] = ()) -> list[ProgramRun]:
    """Every program of a round at once; an empty program is not run."""
    todo = {i: with_readout(c, expr) for i, c in enumerate(codes) if c.strip()}
    results = dict(zip(todo, run_programs(list(todo.values()), timeout_s=timeout_s, packages=packages)))
    out = []
    for i in range(len(codes)):
        res = results.get(i)
        if res is None:
            out.append(ProgramRun(None, "SyntaxError: empty program", "", "failed"))
            continue
        value, own, found = parse_value(res.stdout)
        if res.passed and found:
            out.append(ProgramRun(value, "Done", own, res.status))
        else:
            out.append(ProgramRun(None, res.error_text or res.reason or res.status, own, res.status))
    return out


def floatify(ans: Any) -> Any:
    """A program's answer in the form CRITIC compares (CRITIC src/program/utils.py
    ``floatify_ans``): None stays None, a dict gives its first value, a list
    its first item, a bool stays, anything float() accepts becomes a float,
    the rest its text."""
    if ans is None or isinstance(ans, bool):
        return ans
    if isinstance(ans, dict):
        ans = next(iter(ans.values()), None)
        return floatify(ans) if not isinstance(ans, (dict, list, tuple)) else str(ans)
    if isinstance(ans, (list, tuple)):
        if not ans:
            return None
        try:
            return float(ans[0])
        except (TypeError, ValueError, OverflowError):
            return str(ans)
    try:
        return float(ans)
    except (TypeError, ValueError, OverflowError):
        return str(ans)

"""Command-line usage errors (unknown option, missing argument, bad value) as one line.

typer >= 0.2x vendors its own copy of click (``typer._click``), so its usage
errors are not ``click.ClickException``; older typer raises real click's. Both
families are matched here, by class, so a typer upgrade cannot turn a typo back
into a 25-line traceback (tests/test_cli_errors.py checks every command).
"""
from __future__ import annotations

import difflib
import importlib
import re
from functools import lru_cache
from typing import Any

_CLICK_MODULES = ("typer._click.exceptions", "click.exceptions")


@lru_cache(maxsize=1)
def _classes(name: str) -> tuple[type, ...]:
    found = []
    for mod in _CLICK_MODULES:
        try:
            cls = getattr(importlib.import_module(mod), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def usage_error_types() -> tuple[type[Exception], ...]:
    """Every ClickException class in reach (vendored and real click)."""
    return _classes("ClickException")


def is_help_request(exc: BaseException) -> bool:
    """A bare group (``evalkit leaderboard``): its help is the useful answer, not an error line."""
    return isinstance(exc, _classes("NoArgsIsHelpError"))


def one_line(exc: Any) -> str:
    """``evalkit run: No such option: --bogus (see `evalkit run --help`)``: what is wrong, where, and how to look it up."""
    possible = getattr(exc, "possibilities", None)
    option = getattr(exc, "option_name", None)
    if possible and option:  # click's difflib cutoff offers --verbose for --bogus: keep close matches only
        exc.possibilities = difflib.get_close_matches(option, possible, n=3, cutoff=0.75)
    try:
        msg = exc.format_message()
    except Exception:  # a ClickException subclass with a broken formatter still gets a line
        msg = str(exc)
    msg = re.sub(r"\s+", " ", str(msg)).strip().rstrip(".")
    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", "") if ctx is not None else ""
    if where:
        return f"{where}: {msg} (see `{where} --help`)"
    return msg

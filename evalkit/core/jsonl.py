"""The one JSON-lines reader: every record with the file and line it came from.

Lines are decoded one by one so that a bad byte or a bad record is reported
on its own line (``file:N: ...``), a blank line (a trailing newline, say) is
no record, and a byte-order mark on the first line is tolerated.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.core.errors import DataError


def text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line; a line that is not UTF-8 is one DataError naming it."""
    path = Path(path)
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise DataError(f"missing data file {path}") from None
    with f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8") from None
            yield lineno, text.removeprefix("\ufeff") if lineno == 1 else text


def numbered_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, record) for every non-blank line; malformed JSON is one DataError naming the line."""
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno}); "
                            "fix or remove that line") from None


def read_jsonl(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(``file:line``, record) for every non-blank line, for messages that name the line."""
    for lineno, rec in numbered_records(path):
        yield f"{path}:{lineno}", rec

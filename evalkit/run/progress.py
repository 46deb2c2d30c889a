"""Progress bars on stderr (rich): throughput and ETA for long work."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

console = Console(stderr=True)


class _Rate(TextColumn):
    """items/s over the whole task so far (steadier than rich's windowed speed)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[override]
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return f"{rate:6.2f}/s"


@contextmanager
def bar(label: str, total: int | None = None) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """Yields (advance(k), set_total(n)). Quiet when stderr is not a terminal
    and EVALKIT_PROGRESS is unset, so logs and CI output stay readable."""
    import os

    enabled = sys.stderr.isatty() or os.environ.get("EVALKIT_PROGRESS") == "1"
    if not enabled:
        yield (lambda k: None), (lambda n: None)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  _Rate(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  console=console, transient=False) as p:
        tid = p.add_task(label, total=total)
        yield (lambda k: p.advance(tid, k)), (lambda n: p.update(tid, total=n))

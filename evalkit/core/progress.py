"""Progress on stderr: a live bar on a terminal, a plain line every ~10 s otherwise.

A run that prints nothing for minutes looks dead in a CI log or under
``| tee``, so when stderr is not a terminal a plain line (done/total,
generated tokens/s, ETA) is written every ``EVALKIT_PROGRESS_EVERY`` seconds
(default 10). ``EVALKIT_PROGRESS=0`` silences both.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


class _Rate(TextColumn):
    """items/s and generated tokens/s over the whole task so far (steadier than rich's windowed speed)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        tokens = task.fields.get("tokens", 0)
        tok = f" {tokens / elapsed:6.1f} tok/s" if tokens and elapsed > 0 else ""
        return f"{rate:6.2f}/s{tok}"


class Tracker:
    """Counts finished items and generated tokens; ``tracker(k)`` advances by k.
    Backends call it as their ``progress`` callback; the generation cache adds
    tokens as each generation arrives."""

    def __init__(self, label: str, total: int | None, clock: Callable[[], float] = time.monotonic):
        self.label, self.total = label, total
        self.done = 0
        self.tokens = 0
        self.clock = clock
        self.start = clock()
        self.on_change: Callable[[], None] | None = None

    def __call__(self, k: int) -> None:
        self.done += k
        self._changed()

    def set_total(self, n: int) -> None:
        self.total = n
        self._changed()

    def add_tokens(self, n: int) -> None:
        self.tokens += n
        self._changed()

    def line(self) -> str:
        """``label: 12/81 (15%) · 41.3 tok/s · 1m05s elapsed · eta 3m40s``"""
        elapsed = self.clock() - self.start
        total = "?" if self.total is None else str(self.total)
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        parts = [f"{self.label}: {self.done}/{total}{pct}"]
        if elapsed > 0 and self.tokens:
            parts.append(f"{self.tokens / elapsed:.1f} tok/s")
        parts.append(f"{_clock(elapsed)} elapsed")
        if self.total and self.done and self.done < self.total:
            parts.append(f"eta {_clock(elapsed * (self.total - self.done) / self.done)}")
        return " · ".join(parts)

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def mode() -> str:
    """'live' on a terminal, 'plain' otherwise, 'off' when EVALKIT_PROGRESS=0."""
    env = os.environ.get("EVALKIT_PROGRESS")
    if env == "0":
        return "off"
    return "live" if sys.stderr.isatty() or env == "1" else "plain"


@contextmanager
def bar(label: str, total: int | None = None) -> Iterator[tuple[Tracker, Callable[[int], None]]]:
    """Yields (advance(k), set_total(n)); advance is a Tracker, so tokens can be added too."""
    how = mode()
    if how != "live":
        tracker = Tracker(label, total)
        if how == "off":
            yield tracker, tracker.set_total
            return
        every = float(os.environ.get("EVALKIT_PROGRESS_EVERY", "10"))
        stop = threading.Event()

        def tick() -> None:  # a timer, not a callback: a long batch still shows the run is alive
            while not stop.wait(every):
                _plain(tracker.line())

        thread = threading.Thread(target=tick, daemon=True, name="evalkit-progress")
        thread.start()
        try:
            yield tracker, tracker.set_total
        finally:
            stop.set()
            thread.join()
        if tracker.clock() - tracker.start >= every:
            _plain(tracker.line())  # the final count, once the work was long enough to report on
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  _Rate(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  console=console, transient=False) as p:
        tid = p.add_task(label, total=total, tokens=0)
        tracker = Tracker(label, total)
        tracker.on_change = lambda: p.update(tid, completed=tracker.done, total=tracker.total, tokens=tracker.tokens)
        yield tracker, tracker.set_total


def _plain(text: str) -> None:
    print(text, file=sys.stderr, flush=True)

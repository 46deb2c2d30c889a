"""`evalkit runs`: the stored runs, with run ids always whole.

Run ids are what ``compare``, ``export`` and ``runs --show`` take, so they are
never cut: the id column does not wrap or shrink, the other columns give way,
and on a terminal too narrow for a table each run is one plain line.
"""
from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Column, Table

MIN_TABLE_WIDTH = 80


def _row(r: dict[str, Any]) -> list[str]:
    dur = f"{r['finished'] - r['started']:.1f}" if r["finished"] else ""
    return [r["run_id"], r["model"], ",".join(r["tasks"]), r["status"],
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])), dur]


def print_runs(runs: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or Console()
    rows = [_row(r) for r in runs]
    id_width = max((len(r[0]) for r in rows), default=6)
    if console.width < MIN_TABLE_WIDTH:
        for row in rows:
            console.print(f"{row[0]}  {row[3]}  {row[1]}  {row[2]}", soft_wrap=True, highlight=False)
        return
    table = Table(Column("run_id", no_wrap=True, min_width=id_width), "model", "tasks", "status", "started", "seconds")
    for row in rows:
        table.add_row(*row)
    console.print(table)

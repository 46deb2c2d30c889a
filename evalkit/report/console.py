"""The results table printed at the end of a run (and by `evalkit runs --show`)."""
from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

from evalkit.core.units import display_scale


def _fmt(v: Any, scale: float = 100.0) -> str:
    if not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v * scale:.2f}"


RATES = ("no_answer_rate", "hedge_rate")  # shown as columns beside each metric, not as metrics


def results_table(results: dict[str, dict[str, Any]], groups: dict[str, list[str]], title: str = "") -> Table:
    """Tasks, then each group's macro and micro averages; rates on a 0-100 scale, counts as they are.
    "no ans %" and "hedged %" say how many outputs stated no answer or hedged
    (docs/extraction.md), so a score that extraction rescued is visible."""
    table = Table(title=title or None, show_lines=False)
    for col, just in (("task", "left"), ("metric", "left"), ("value", "right"), ("± stderr", "right"), ("n", "right"),
                      ("no ans %", "right"), ("hedged %", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    grouped = {t for members in groups.values() for t in members}
    for name in [t for t in results if t not in groups]:
        res = results[name]
        for k, v in res.items():
            if isinstance(v, float) and not k.endswith("_stderr") and k not in RATES:
                scale = display_scale(k)
                table.add_row(("  " if name in grouped else "") + name, k, _fmt(v, scale), _fmt(res.get(f"{k}_stderr"), scale),
                              str(res.get("n", "")), _fmt(res.get("no_answer_rate")), _fmt(res.get("hedge_rate")))
    for g in groups:
        res = results.get(g, {})
        for k in [k for k in res if k.endswith(("_macro", "_micro"))]:
            table.add_row(f"[bold]{g}[/bold]", k, _fmt(res[k]), _fmt(res.get(f"{k}_stderr")), str(res.get("n", "")),
                          _fmt(res.get("no_answer_rate")), _fmt(res.get("hedge_rate")))
    return table


def breakdown_table(breakdowns: dict[str, dict[str, dict[str, Any]]]) -> Table:
    """Each task's main metric by breakdown value (``subject=Algebra``, ``level=3``)."""
    table = Table(title="breakdown", show_lines=False)
    for col, just in (("task", "left"), ("by", "left"), ("value", "right"), ("± stderr", "right"), ("n", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for task, parts in breakdowns.items():
        for i, (key, res) in enumerate(parts.items()):
            metric = next((k for k in res if k != "n" and not k.endswith("_stderr")), "")
            table.add_row(task if i == 0 else "", key, _fmt(res.get(metric)), _fmt(res.get(f"{metric}_stderr")),
                          str(res.get("n", "")))
    return table


def _console() -> Console:
    # Off a terminal (CI logs, `| tee`) rich assumes 80 columns and cuts task names to
    # "bbh_boolea…"; a log has no width, so give the table the room it needs there.
    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_results(results: dict[str, Any], groups: dict[str, list[str]], title: str = "",
                  breakdowns: dict[str, Any] | None = None) -> None:
    console = _console()
    console.print(results_table(results, groups, title))
    if breakdowns:
        console.print(breakdown_table(breakdowns))

"""Leaderboards: models x tasks from the store, as defined in ``leaderboards/*.yaml``.

Each cell is the latest complete run of that model on that task, shown as
value ± 1.96·stderr. Two kinds of aggregate stand side by side, because they
answer different questions:

* ``macro``: the mean of the task scores (sensitive to each task's scale and spread);
* ``mean_rank`` / ``borda``: rank-based, so one task with a wide spread cannot
  dominate (mean rank among the models that ran each task; Borda counts the
  models beaten on each task, ties counting half).

A task nobody has run yet is shown empty and left out of every aggregate; a
model that lacks a task others have is aggregated over what it has and
marked partial.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.core.errors import ConfigError
from evalkit.core.registry import suggest
from evalkit.report.run_label import display_model
from evalkit.store import Store

Z95 = 1.96
Aggregate = Literal["macro", "mean_rank", "borda"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BoardTask(_Frozen):
    """One column of a leaderboard."""

    task: str  # evalkit task or group name as stored (bbh, humaneval, lm_eval:hellaswag...)
    metric: str | None = None  # default: the task's main metric
    name: str | None = None  # display name (default: the task name)
    higher_is_better: bool = True

    @property
    def label(self) -> str:
        return self.name or self.task


class LeaderboardSpec(_Frozen):
    """A leaderboard file: which tasks and metrics, how to aggregate, what to call things."""

    name: str  # the file's stem; `evalkit leaderboard show NAME`
    title: str
    description: str = ""
    tasks: tuple[BoardTask, ...] = Field(min_length=1)
    aggregate: tuple[Aggregate, ...] = ("macro", "mean_rank")  # columns, the first one orders the rows
    models: dict[str, str] = Field(default_factory=dict)  # model string -> display name
    source_file: str = ""


def leaderboards_dir() -> Path:
    """EVALKIT_LEADERBOARDS_DIR, else the folder shipped with the package."""
    if os.environ.get("EVALKIT_LEADERBOARDS_DIR"):
        return Path(os.environ["EVALKIT_LEADERBOARDS_DIR"])
    from evalkit.core.paths import resource_dir

    return resource_dir("leaderboards")


def parse_leaderboard(path: Path) -> LeaderboardSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'title' and 'tasks'")
    if raw.setdefault("name", path.stem) != path.stem:
        raise ConfigError(f"{path}: field 'name' is '{raw['name']}' but must match the file name '{path.stem}'")
    try:
        spec = LeaderboardSpec.model_validate({**raw, "source_file": str(path)})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{path}: field '{'.'.join(map(str, err['loc']))}': {err['msg']}") from None
    dupes = {t.task for t in spec.tasks if sum(u.task == t.task and u.metric == t.metric for u in spec.tasks) > 1}
    if dupes:
        raise ConfigError(f"{path}: task {', '.join(sorted(dupes))} is listed twice with the same metric")
    return spec


def load_leaderboards(folder: Path | None = None) -> dict[str, LeaderboardSpec]:
    folder = folder or leaderboards_dir()
    return {p.stem: parse_leaderboard(p) for p in sorted(folder.glob("*.yaml"))}


def load_leaderboard(name: str, folder: Path | None = None) -> LeaderboardSpec:
    folder = folder or leaderboards_dir()
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"unknown leaderboard '{name}'{suggest(name, known)}; known: {', '.join(known) or 'none'}")
    return parse_leaderboard(path)


# -- the table --------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One model's score on one task, from one run."""

    value: float
    stderr: float | None
    n: int
    run_id: str
    metric: str
    limited: bool  # the run used --limit: a subset of the docs
    spread: tuple[float, float] | None = None  # (format_min, format_max) when the run had --formats

    @property
    def ci(self) -> float | None:
        return None if self.stderr is None else Z95 * self.stderr


@dataclass
class Board:
    spec: LeaderboardSpec
    models: list[str]  # in display order
    cells: dict[tuple[str, str], Cell]  # (model, task) -> cell
    empty_tasks: list[str]  # tasks no model has run
    macro: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # model -> (mean, ci)
    mean_rank: dict[str, float] = field(default_factory=dict)
    borda: dict[str, float] = field(default_factory=dict)
    coverage: dict[str, int] = field(default_factory=dict)  # tasks the model has, of those anyone has

    @property
    def active_tasks(self) -> list[BoardTask]:
        return [t for t in self.spec.tasks if t.task not in self.empty_tasks]

    def display(self, model: str) -> str:
        return self.spec.models.get(model, model)


def main_metric(task: str, row: dict[str, Any], layout: dict[str, Any] | None = None) -> str | None:
    """The metric a task is ranked on: as the run stored it, else (a run stored before evalkit saved
    run layouts) the first metric in its results row -- never today's YAML."""
    stored = (layout or {}).get("main_metric") or {}
    if stored.get(task) in row:
        return stored[task]
    return next((k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                 and not k.endswith("_stderr") and k not in ("n", "n_errors", "subtasks")), None)


def latest_cells(store: Store, tasks: list[BoardTask]) -> dict[tuple[str, str], Cell]:
    """(model, task) -> the cell from the latest complete run of that model with that task and metric."""
    cells: dict[tuple[str, str], Cell] = {}
    seen: dict[str, set[str]] = {}  # task -> metrics its stored runs have, to catch a misspelt board metric
    for run in store.run_records(status="complete"):
        run_id, results = run["run_id"], run["results"] or {}
        config = run["config"] or {}
        limited = config.get("limit") is not None
        model = display_model(run["model"], config)  # a replay shows as the model that produced it
        for t in tasks:
            row = results.get(t.task)
            if not isinstance(row, dict):
                continue
            seen.setdefault(t.task, set()).update(k for k, v in row.items() if isinstance(v, (int, float))
                                                  and not k.endswith("_stderr") and k not in ("n", "n_errors", "subtasks"))
            metric = t.metric or main_metric(t.task, row, run.get("layout"))
            value = row.get(metric) if metric else None
            if not isinstance(value, (int, float)) or value != value:
                continue
            assert metric is not None  # value came from it
            se = row.get(f"{metric}_stderr")
            se = float(se) if isinstance(se, (int, float)) and se == se else None
            lo, hi = row.get("format_min"), row.get("format_max")
            spread = (float(lo), float(hi)) if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else None
            cells[(model, t.task)] = Cell(float(value), se, int(row.get("n") or 0), run_id, metric, limited, spread)
    check_metrics(tasks, seen)
    return cells


def check_metrics(tasks: list[BoardTask], seen: dict[str, set[str]]) -> None:
    """A board metric that none of the task's stored runs reports is a typo in the board file,
    not an empty column."""
    for t in tasks:
        if t.metric and seen.get(t.task) and t.metric not in seen[t.task]:
            have = sorted(seen[t.task])
            raise ConfigError(f"leaderboard task '{t.task}': no stored run has metric '{t.metric}'"
                              f"{suggest(t.metric, have)}; its runs report {', '.join(have)}")


def _ranks(values: dict[str, float], higher_is_better: bool) -> dict[str, float]:
    """Rank 1 is best; tied models share the mean of their ranks."""
    ordered = sorted(values, key=lambda m: -values[m] if higher_is_better else values[m])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and values[ordered[j + 1]] == values[ordered[i]]:
            j += 1
        for m in ordered[i:j + 1]:
            ranks[m] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def aggregate(board: Board) -> None:
    models = sorted({m for m, _ in board.cells})
    tasks = board.active_tasks
    rank_sum: dict[str, list[float]] = {m: [] for m in models}
    board.borda = {m: 0.0 for m in models}
    for t in tasks:
        vals = {m: board.cells[(m, t.task)].value for m in models if (m, t.task) in board.cells}
        ranks = _ranks(vals, t.higher_is_better)
        for m, r in ranks.items():
            rank_sum[m].append(r)
            board.borda[m] += len(vals) - r  # models beaten, ties counting half
    for m in models:
        have = [board.cells[(m, t.task)] for t in tasks if (m, t.task) in board.cells]
        board.coverage[m] = len(have)
        mean = sum(c.value for c in have) / len(have)
        errs = [c.stderr for c in have if c.stderr is not None]
        ci = (Z95 * math.sqrt(sum(e ** 2 for e in errs)) / len(have)
              if len(errs) == len(have) else None)
        board.macro[m] = (mean, ci)
        board.mean_rank[m] = sum(rank_sum[m]) / len(rank_sum[m])
    first = board.spec.aggregate[0] if board.spec.aggregate else "macro"
    key = {"macro": lambda m: -board.macro[m][0], "mean_rank": lambda m: board.mean_rank[m],
           "borda": lambda m: -board.borda[m]}[first]
    board.models = sorted(models, key=lambda m: (-board.coverage[m], key(m), m))


def build_board(spec: LeaderboardSpec, store: Store) -> Board:
    try:
        cells = latest_cells(store, list(spec.tasks))
    except ConfigError as exc:
        raise ConfigError(f"{spec.source_file or spec.name}: {exc}; fix the board's metric") from None
    empty = [t.task for t in spec.tasks if not any(task == t.task for _, task in cells)]
    board = Board(spec, [], cells, empty)
    aggregate(board)
    return board


# -- text output ------------------------------------------------------------

def fmt_cell(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    text = f"{cell.value * 100:.1f}" + (f" ± {cell.ci * 100:.1f}" if cell.ci is not None else "")
    if cell.spread is not None:  # the range over prompt formats (--formats)
        text += f" [{cell.spread[0] * 100:.1f}–{cell.spread[1] * 100:.1f}]"
    return text + ("†" if cell.limited else "")


def board_rows(board: Board) -> tuple[list[str], list[list[str]]]:
    """Header and rows as strings (points, 0-100), shared by the CLI table and tests."""
    header = ["#", "model"] + [t.label for t in board.spec.tasks]
    agg_names = {"macro": "macro avg", "mean_rank": "mean rank", "borda": "Borda"}
    header += [agg_names[a] for a in board.spec.aggregate] + ["tasks"]
    n_active = len(board.active_tasks)
    rows = []
    for i, m in enumerate(board.models, 1):
        row = [str(i), board.display(m)] + [fmt_cell(board.cells.get((m, t.task))) for t in board.spec.tasks]
        for a in board.spec.aggregate:
            if a == "macro":
                mean, ci = board.macro[m]
                row.append(f"{mean * 100:.1f}" + (f" ± {ci * 100:.1f}" if ci is not None else ""))
            elif a == "mean_rank":
                row.append(f"{board.mean_rank[m]:.2f}")
            else:
                row.append(f"{board.borda[m]:g}")
        row.append(f"{board.coverage[m]}/{n_active}" + ("" if board.coverage[m] == n_active else " partial"))
        rows.append(row)
    return header, rows


def print_board(board: Board) -> None:
    from rich.console import Console
    from rich.table import Table

    header, rows = board_rows(board)
    table = Table(title=f"{board.spec.title} (value ± 95% CI, points)", title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 1 else "right")
    for r in rows:
        table.add_row(*r)
    console = Console()
    console.print(table)
    if not rows:
        console.print("no complete runs of these tasks in the store yet")
    if board.empty_tasks:
        console.print(f"no runs yet: {', '.join(board.empty_tasks)} (left out of the aggregates)")
    if any(c.limited for c in board.cells.values()):
        console.print("† from a --limit run (a subset of the docs)")
    if any(c.spread for c in board.cells.values()):
        console.print("[lo–hi]: the score's range over prompt formats (--formats)", markup=False)

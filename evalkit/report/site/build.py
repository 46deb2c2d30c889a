"""`evalkit site build`: a static site from the store, readable from file://.

Pages: ``index.html`` (leaderboards and every run), ``charts.html`` (per-task
bars with 95% CI whiskers and checkpoint trends), ``runs/<run>/index.html``
(a run's metrics and provenance) and ``runs/<run>/<task>.html`` (its sample
browser). Templates autoescape everything: prompts and model outputs are
hostile HTML. Charts are inline SVG; the one script and stylesheet are copied
next to the pages and linked relatively, so no server and no network.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from evalkit import __version__
from evalkit.core import progress
from evalkit.core.errors import ConfigError, StoreError
from evalkit.core.units import display_scale
from evalkit.report.compare import open_store
from evalkit.report.leaderboard import (
    BoardTask,
    Cell,
    board_rows,
    build_board,
    fmt_cell,
    latest_cells,
    leaderboards_dir,
    load_leaderboards,
    main_metric,
)
from evalkit.report.run_label import display_model
from evalkit.report.site.svg import Bar, Point, bar_chart, trend_chart
from evalkit.store import Store

HERE = Path(__file__).resolve().parent
MAX_FLIP_RUNS = 20  # other runs of a task offered in the flip filter
STEP = re.compile(r"(checkpoint|ckpt|global_step|step|iter)[-_]?(\d+)", re.IGNORECASE)


@dataclass
class RunInfo:
    run_id: str
    model: str
    tasks: list[str]
    status: str
    started: float
    finished: float | None
    config: dict[str, Any]
    results: dict[str, Any]
    slug: str
    layout: dict[str, Any] | None = None  # groups and main metrics as stored with the run

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started))

    @property
    def seconds(self) -> str:
        return f"{self.finished - self.started:.1f}" if self.finished else ""


def slug(name: str) -> str:
    """A file-name-safe, collision-free form of a run id or task name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:60]
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def json_script(obj: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' survive."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return Markup(text)


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pts"] = lambda v, metric="": "" if v is None or v != v else f"{v * display_scale(metric):.2f}"
    env.filters["short"] = lambda v, n=80: (lambda s: s if len(s) <= n else s[: n - 1] + "…")(_text(v))
    env.filters["text"] = _text
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    env.filters["cell"] = fmt_cell
    env.filters["json_script"] = json_script
    return env


def _text(v: Any) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)


def load_runs(store: Store) -> list[RunInfo]:
    # A replay is labelled with the model that produced its outputs.
    return [RunInfo(r["run_id"], display_model(r["model"], r["config"] or {}), r["tasks"] or [], r["status"], r["started"],
                    r["finished"], r["config"] or {}, r["results"] or {}, slug(r["run_id"]), r["layout"])
            for r in store.run_records(newest_first=True)]


# -- charts -----------------------------------------------------------------

def task_charts(store: Store, runs: list[RunInfo]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(top-level charts, subtask charts): one bar chart per task, latest run per model."""
    complete = [r for r in runs if r.status == "complete"]
    top = sorted({t for r in complete for t in r.tasks if t in r.results})
    every = sorted({t for r in complete for t in r.results if "@" not in t})  # not --formats/--permute variants
    cells = latest_cells(store, [BoardTask(task=t) for t in every])
    by_task: dict[str, list[tuple[str, Cell]]] = {}
    for (model, task), cell in cells.items():
        by_task.setdefault(task, []).append((model, cell))
    charts: list[dict[str, Any]] = []
    for task in every:
        entries = sorted(by_task.get(task, []), key=lambda mc: -mc[1].value)
        if not entries:
            continue
        metric = entries[0][1].metric
        bars = [Bar(m, c.value, c.ci, f"run {c.run_id}, n={c.n}" + (", --limit" if c.limited else ""))
                for m, c in entries]
        charts.append({"task": task, "metric": metric, "top": task in top, "anchor": slug(task),
                       "svg": Markup(bar_chart(f"{task} · {metric}", bars))})
    return [c for c in charts if c["top"]], [c for c in charts if not c["top"]]


def checkpoint(model: str) -> tuple[str, int | None]:
    """(family, step): ``hf:out/ckpt-2000`` -> (``hf:out/ckpt-*``, 2000); no step -> (model, None)."""
    m = None
    for m in STEP.finditer(model):
        pass
    if m is None:
        return model, None
    return model[: m.start(2)] + "*" + model[m.end(2):], int(m.group(2))


def trends(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """A trend chart per (model family, task) with at least two points: checkpoints
    of one family by step (latest run of each), or one model's runs in time order."""
    complete = sorted((r for r in runs if r.status == "complete"), key=lambda r: r.started)
    tasks = sorted({t for r in complete for t in r.tasks if t in r.results})
    out = []
    for task in tasks:
        families: dict[str, list[tuple[RunInfo, int | None]]] = {}
        for r in complete:
            if task in r.results:
                fam, step = checkpoint(r.model)
                families.setdefault(fam, []).append((r, step))
        for fam, members in sorted(families.items()):
            points = _trend_points(task, members)
            if len(points) >= 2:
                metric = points[0][1]
                out.append({"task": task, "family": fam,
                            "svg": Markup(trend_chart(f"{fam} · {task} · {metric}", [p for p, _ in points]))})
    return out


def _trend_points(task: str, members: list[tuple[RunInfo, int | None]]) -> list[tuple[Point, str]]:
    stepped = {r.model: (r, s) for r, s in members if s is not None}  # latest run of each checkpoint
    points = []
    if len(stepped) >= 2:
        series = [(float(s), f"step {s}", r) for r, s in stepped.values()]
    else:
        series = [(float(i), r.when, r) for i, (r, _) in enumerate(members)]
    for x, label, r in series:
        row = r.results[task]
        metric = main_metric(task, row, r.layout)
        value = row.get(metric) if metric else None
        if isinstance(value, (int, float)) and value == value:
            assert metric is not None  # value came from it
            se = row.get(f"{metric}_stderr")
            ci = 1.96 * se if isinstance(se, (int, float)) and se == se else None
            points.append((Point(x, label, float(value), ci, f"{r.model}, run {r.run_id}"), metric))
    return points


# -- pages ------------------------------------------------------------------

def metric_rows(run: RunInfo, sample_tasks: set[str]) -> list[dict[str, Any]]:
    rows = []
    for task, res in run.results.items():
        if not isinstance(res, dict):
            continue
        for k, v in res.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.endswith("_stderr") \
                    and k not in ("n", "n_errors", "subtasks", "no_answer_rate", "hedge_rate"):
                se = res.get(f"{k}_stderr")
                ci = 1.96 * se if isinstance(se, (int, float)) and se == se else None
                rows.append({"task": task, "metric": k, "value": v, "ci": ci, "n": res.get("n", ""),
                             "no_answer_rate": res.get("no_answer_rate"), "hedge_rate": res.get("hedge_rate"),
                             "link": f"{slug(task)}.html" if task in sample_tasks else None})
    return rows


def flip_sets(store: Store, runs: list[RunInfo], run_tasks: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """task -> per-doc scores of its newest complete runs (newest first), for the samples pages' flip filter.

    One query per task (not per run and task), and the data live in one file per task
    that every run's page reads, so adding a run rewrites those files, not old pages."""
    members: dict[str, list[RunInfo]] = {}
    for run in runs:  # complete runs, newest first
        for task in run_tasks[run.run_id]:
            if len(members.setdefault(task, [])) <= MAX_FLIP_RUNS:  # a page offers the others
                members[task].append(run)
    out: dict[str, list[dict[str, Any]]] = {}
    for task, group in members.items():
        scores: dict[str, dict[str, float | None]] = {r.run_id: {} for r in group}
        for run_id, doc_id, score in store.task_scores(task, [r.run_id for r in group]):
            scores[run_id][str(doc_id)] = score
        out[task] = [{"run": r.run_id, "label": f"{r.model} · {r.run_id}", "scores": scores[r.run_id]} for r in group]
    return out


def templates_digest() -> str:
    """sha256 over the templates' names and text, and evalkit's version: what every run page is made with."""
    h = hashlib.sha256(__version__.encode())
    for f in sorted((HERE / "templates").glob("*.j2")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def _page_key(run: RunInfo, templates: str) -> str:
    """What a complete run's pages depend on: the run (immutable once complete) and ``templates_digest()``.
    An unchanged key means the pages on disk are current."""
    return hashlib.sha256(json.dumps([run.run_id, run.finished, run.status, templates], default=str).encode()).hexdigest()


def build_site(store_path: str | Path, out: str | Path, leaderboards_folder: Path | None = None) -> Path:
    """Write the site into ``out``; returns the path of index.html."""
    out = Path(out)
    store = open_store(store_path)
    try:
        runs = load_runs(store)
        if out.exists() and not out.is_dir():
            raise StoreError(f"--out {out} is a file, not a directory")
        out.mkdir(parents=True, exist_ok=True)
        env = _env()
        assets = out / "assets"
        assets.mkdir(exist_ok=True)
        for f in ("site.css", "site.js"):
            shutil.copyfile(HERE / "static" / f, assets / f)
        generated = time.strftime("%Y-%m-%d %H:%M")
        common = {"generated": generated, "store": store.where}
        specs = _leaderboard_specs(leaderboards_folder)
        boards = []
        for spec in specs.values():
            board = build_board(spec, store)
            header, rows = board_rows(board)
            boards.append({"board": board, "header": header, "rows": rows})
        _write(out / "index.html", env.get_template("index.html.j2").render(
            root="", boards=boards, runs=runs, **common))
        top, sub = task_charts(store, runs)
        _write(out / "charts.html", env.get_template("charts.html.j2").render(
            root="", top=top, sub=sub, trends=trends(runs), **common))
        from evalkit.report.site.robustness import page_data

        _write(out / "robustness.html", env.get_template("robustness.html.j2").render(
            root="", **page_data(runs), **common))
        complete = [r for r in runs if r.status == "complete"]
        run_tasks = {r.run_id: store.sample_tasks(r.run_id) for r in complete}
        flips = out / "flips"
        flips.mkdir(exist_ok=True)
        for task, data in flip_sets(store, complete, run_tasks).items():
            _write(flips / f"{slug(task)}.js", f"window.evalkitFlips = {json_script(data)};\n")
        _write_runs(store, env, out / "runs", complete, run_tasks, common)
        return out / "index.html"
    except OSError as exc:  # read-only filesystem, full disk, no permission
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise StoreError(f"cannot write the site to {out}: {exc.strerror or exc}{where}; choose another --out") from None
    finally:
        store.close()


def _leaderboard_specs(folder: Path | None) -> dict[str, Any]:
    """The boards to show. No leaderboards folder: none (the site still has runs and
    charts); a malformed board file is an error, never a silent site without boards."""
    try:
        folder = folder or leaderboards_dir()
    except ConfigError:
        return {}  # an installed copy without leaderboards/
    return load_leaderboards(folder) if folder.is_dir() else {}


def _write_runs(store: Store, env: Environment, folder: Path, runs: list[RunInfo], run_tasks: dict[str, list[str]],
                common: dict[str, Any]) -> None:
    """Each run's pages, skipping runs whose pages a previous build wrote from the same
    run and templates: a site over hundreds of runs is rebuilt in the time of its new runs."""
    manifest_file = folder / "built.json"
    try:
        built = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        built = {}
    built = built if isinstance(built, dict) else {}
    folder.mkdir(parents=True, exist_ok=True)
    templates = templates_digest()
    with progress.bar("site: run pages", len(runs)) as (advance, _):
        for run in runs:
            key = _page_key(run, templates)
            if built.get(run.slug) != key or not (folder / run.slug / "index.html").is_file():
                built.pop(run.slug, None)
                _write_run(store, env, folder / run.slug, run, run_tasks[run.run_id], common)
                built[run.slug] = key
                _write(manifest_file, json.dumps(built, indent=0))  # a killed build keeps what it finished
            advance(1)


def _write_run(store: Store, env: Environment, folder: Path, run: RunInfo, tasks: list[str],
               common: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "index.html", env.get_template("run.html.j2").render(
        root="../../", run=run, metrics=metric_rows(run, set(tasks)), tasks=tasks, slug=slug, **common))
    page = env.get_template("samples.html.j2")
    for task in tasks:
        samples = [_sample_view(s) for s in store.samples(run.run_id, task)]
        res = run.results.get(task, {})
        _write(folder / f"{slug(task)}.html", page.render(
            root="../../", run=run, task=task, samples=samples, result=res if isinstance(res, dict) else {},
            flip_file=f"{slug(task)}.js", max_flips=MAX_FLIP_RUNS, **common))


def _sample_view(rec: dict[str, Any]) -> dict[str, Any]:
    """A stored sample with every field the template reads (older or bridged records may lack some)."""
    out = {"doc_id": rec.get("doc_id"), "prompt": _text(rec.get("prompt")), "extracted": rec.get("extracted"),
           "target": rec.get("target"), "score": float(rec.get("score") or 0.0), "error": rec.get("error") or "",
           "extraction_status": rec.get("extraction_status") if isinstance(rec.get("extraction_status"), str) else ""}
    outputs = rec.get("outputs")
    out["outputs"] = [_text(o) for o in outputs] if isinstance(outputs, list) else [_text(rec.get("output"))]
    for key in ("extracted_all", "scores_all", "trace"):
        out[key] = rec.get(key) if isinstance(rec.get(key), list) else []
    for key in ("metrics", "extra"):
        out[key] = rec.get(key) if isinstance(rec.get(key), dict) else {}
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)

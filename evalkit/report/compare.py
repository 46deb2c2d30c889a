"""Comparing two runs doc by doc: `evalkit compare BASELINE CANDIDATE`.

A run is named by a stored run id, a results dir (``results.json`` plus
``samples/``) or ``latest:MODEL``. Samples pair by ``(task, doc_id)``; each
task gets a paired test (see ``evalkit.report.stats``), the p-values are Holm-adjusted
across tasks, and a task *regresses* when its adjusted p-value is below alpha
and the candidate is worse by at least ``min_delta`` points (0-100 scale).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.core.errors import ConfigError, DataError, StoreError
from evalkit.core.jsonl import read_jsonl
from evalkit.core.registry import suggest
from evalkit.report.engine_diff import differences
from evalkit.report.stats import PairedTest, holm, paired_test
from evalkit.store import Store, is_postgres, open_reader

LATEST = "latest:"


@dataclass(frozen=True)
class RunScores:
    """One side of a comparison: every per-doc score of a run, by task."""

    label: str  # how the user named it
    model: str
    run_id: str | None
    scores: dict[str, dict[Any, float]]  # task -> doc_id ("task/doc_id" when pooled by group) -> score
    spec_hashes: dict[str, Any] = field(default_factory=dict)  # task -> spec/prompt hashes, for warnings
    requested: tuple[str, ...] = ()  # the task and group names the run was asked for
    layout: dict[str, Any] = field(default_factory=dict)  # groups and pooling as stored with the run
    engine: dict[str, Any] | None = None  # config.engine: engine, dtype, tokenizer settings


@dataclass
class TaskDiff:
    """The comparison of one task."""

    task: str
    test: PairedTest | None  # None when the runs share no doc of this task
    only_baseline: int  # docs scored only in the baseline
    only_candidate: int
    worse_ids: list[Any]  # doc ids whose score dropped ("task/doc_id" when pooled by group)
    better_ids: list[Any]
    p_adjusted: float = 1.0  # Holm-adjusted across the compared tasks
    verdict: str = ""  # "regression", "improvement" or ""


@dataclass
class Comparison:
    baseline: RunScores
    candidate: RunScores
    tasks: list[TaskDiff]
    alpha: float
    min_delta: float  # points, 0-100 scale
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[TaskDiff]:
        return [t for t in self.tasks if t.verdict == "regression"]

    @property
    def improvements(self) -> list[TaskDiff]:
        return [t for t in self.tasks if t.verdict == "improvement"]


# -- loading ----------------------------------------------------------------

def open_store(path: str | Path) -> Store:
    """An existing store, read-only (compare, leaderboards and the site only read; they never create one)."""
    return open_reader(path)


def load_run(ref: str, store_path: str | Path) -> RunScores:
    """Resolve a run id, a results dir or ``latest:MODEL`` into its per-doc scores."""
    if ref.startswith(LATEST):
        store = open_store(store_path)
        return _from_store(store, latest_run_id(store, ref[len(LATEST):]), ref)
    path = Path(ref)
    if path.is_dir():
        return _from_dir(path, ref)
    if "/" in ref or path.suffix or path.exists():
        raise DataError(f"results dir {ref} does not exist (expected a dir holding results.json and samples/)")
    if not is_postgres(store_path) and not Path(store_path).is_file():
        raise StoreError(f"'{ref}' is not a results dir, and there is no store at {store_path} to look it up in")
    store = open_store(store_path)
    if not store.has_run(ref):
        ids = store.run_ids()
        raise StoreError(f"'{ref}' is neither a run id in {store.where}{suggest(ref, ids)} nor a results dir; "
                         "`evalkit runs` lists the runs")
    return _from_store(store, ref, ref)


def latest_run_id(store: Store, model: str) -> str:
    run_id = store.latest_complete(model)
    if run_id is None:
        models = store.complete_models()
        raise StoreError(f"no complete run of model '{model}' in {store.where}{suggest(model, models)}")
    return run_id


def _from_store(store: Store, run_id: str, label: str) -> RunScores:
    run = store.run(run_id)
    if run["status"] != "complete":
        raise StoreError(f"run {run_id} is {run['status']}, not complete; finish it (re-run the same command) first")
    scores: dict[str, dict[int, float]] = {}
    for task, doc_id, score in store.sample_scores(run_id):
        scores.setdefault(task, {})[int(doc_id)] = float(score or 0.0)
    return RunScores(label, run["model"], run_id, scores, (run["config"] or {}).get("task_specs", {}),
                     tuple(run["tasks"] or ()), run.get("layout") or {}, (run["config"] or {}).get("engine"))


def _from_dir(path: Path, label: str) -> RunScores:
    results = path / "results.json"
    if not results.is_file():
        raise DataError(f"{path} has no results.json; is it an `evalkit run --output` dir?")
    try:
        payload = json.loads(results.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{results}: not valid JSON ({exc.msg})") from None
    files = sorted((path / "samples").glob("*.jsonl"))
    if not files:
        raise DataError(f"{path} has no samples/*.jsonl to pair; compare needs per-sample records")
    scores: dict[str, dict[int, float]] = {}
    for f in files:
        for where, rec in read_jsonl(f):
            try:
                scores.setdefault(str(rec["task"]), {})[int(rec["doc_id"])] = float(rec.get("score") or 0.0)
            except (KeyError, TypeError, ValueError, AttributeError):
                raise DataError(f"{where}: a sample line needs task, doc_id and score") from None
    config = payload.get("config", {})
    return RunScores(label, str(config.get("model", "?")), payload.get("run_id"), scores, config.get("task_specs", {}),
                     tuple(config.get("tasks") or ()), payload.get("layout") or {}, config.get("engine"))


# -- comparing --------------------------------------------------------------

def select_tasks(baseline: RunScores, candidate: RunScores, only: list[str] | None) -> list[str]:
    """Tasks both runs scored (optionally narrowed to ``only``, groups expanded)."""
    common = sorted(set(baseline.scores) & set(candidate.scores))
    if not common:
        raise ConfigError(f"no common tasks: {baseline.label} has {_names(baseline.scores)}, "
                          f"{candidate.label} has {_names(candidate.scores)}")
    if not only:
        return common
    wanted: list[str] = []
    for name in only:
        stored = {**candidate.layout.get("leaves", {}), **baseline.layout.get("leaves", {})}
        found = [name] if name in common else [t for t in _expand(name, stored) if t in common]
        if not found:
            raise ConfigError(f"task '{name}' is not in both runs{suggest(name, common)}")
        wanted.extend(t for t in found if t not in wanted)
    return wanted


def _expand(name: str, stored: dict[str, list[str]]) -> list[str]:
    """A group's leaves as the runs stored them (never today's YAML: a run compares as it was run)."""
    return list(stored.get(name, [name]))


def _names(scores: dict[str, Any]) -> str:
    names = sorted(scores)
    return (", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")) or "no samples"


def stored_group_of(*runs: RunScores) -> dict[str, str]:
    """leaf -> pooling group as the runs stored it; the baseline's choice wins a disagreement."""
    out: dict[str, str] = {}
    for r in runs:
        for leaf, g in (r.layout.get("group_of") or {}).items():
            out.setdefault(leaf, g)
    return out


def pool_by_group(run: RunScores, groups: dict[str, str]) -> RunScores:
    """One pseudo-task per group, its docs keyed ``task/doc_id``: a paired test of the
    group's micro average, far more powerful than per-subtask tests after Holm."""
    pooled: dict[str, dict[Any, float]] = {}
    for task, docs in run.scores.items():
        group = groups.get(task)
        if group is None:
            pooled.setdefault(task, {}).update(docs)
        else:
            pooled.setdefault(group, {}).update({f"{task}/{d}": v for d, v in docs.items()})
    return replace(run, scores=pooled)


def _doc_order(doc: Any) -> tuple[str, int]:
    """Doc ids in numeric order, pooled ``task/doc_id`` ids by task, then number."""
    if isinstance(doc, int):
        return "", doc
    task, _, num = str(doc).rpartition("/")
    return task, int(num) if num.isdigit() else -1


def diff_task(task: str, a: dict[Any, float], b: dict[Any, float], resamples: int, seed: int) -> TaskDiff:
    ids = sorted(set(a) & set(b), key=_doc_order)
    test = paired_test([a[i] for i in ids], [b[i] for i in ids], resamples, seed) if ids else None
    return TaskDiff(task, test, len(set(a) - set(b)), len(set(b) - set(a)),
                    [i for i in ids if b[i] < a[i]], [i for i in ids if b[i] > a[i]])


def compare(baseline: RunScores, candidate: RunScores, tasks: list[str] | None = None, alpha: float = 0.05,
            min_delta: float = 0.0, resamples: int = 10_000, seed: int = 0, by: str = "task") -> Comparison:
    """Paired tests per task (or per group, pooled), Holm-adjusted across the tests that have paired docs."""
    if by not in ("task", "group"):
        raise ConfigError(f"unknown --by '{by}'; use task or group")
    notes = _notes(baseline, candidate, select_tasks(baseline, candidate, None))
    if by == "group":
        missing = [r.label for r in (baseline, candidate) if r.layout.get("group_of") is None]
        if missing:
            raise ConfigError(f"--by group needs the groups each run was made with, and {', '.join(missing)} "
                              "stored none (made before evalkit saved run layouts); compare --by task, or re-run it")
        groups = stored_group_of(baseline, candidate)
        baseline, candidate = pool_by_group(baseline, groups), pool_by_group(candidate, groups)
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, got {alpha}")
    if min_delta < 0:
        raise ConfigError(f"--min-delta is in points and must be >= 0, got {min_delta}")
    names = select_tasks(baseline, candidate, tasks)
    diffs = [diff_task(t, baseline.scores[t], candidate.scores[t], resamples, seed) for t in names]
    tested = [d for d in diffs if d.test is not None]
    if not tested:
        raise ConfigError(f"{baseline.label} and {candidate.label} share tasks but no doc ids; nothing to pair")
    for d, p in zip(tested, holm([d.test.p_value for d in tested])):  # type: ignore[union-attr]
        d.p_adjusted = p
        assert d.test is not None
        if p < alpha and abs(d.test.delta) * 100 >= min_delta and d.test.delta != 0:
            d.verdict = "regression" if d.test.delta < 0 else "improvement"
    return Comparison(baseline, candidate, diffs, alpha, min_delta, notes)


def _notes(baseline: RunScores, candidate: RunScores, names: list[str]) -> list[str]:
    notes = []
    for side, other in ((baseline, candidate), (candidate, baseline)):
        extra = sorted(set(side.scores) - set(other.scores))
        if extra:
            notes.append(f"only in {side.label}, not compared: {', '.join(extra[:10])}"
                         + (f" (+{len(extra) - 10} more)" if len(extra) > 10 else ""))
    changed = [t for t in names if _hash(baseline, t) and _hash(candidate, t) and _hash(baseline, t) != _hash(candidate, t)]
    if changed:
        notes.append(f"task spec or prompt differs between the runs for: {', '.join(changed[:10])}")
    data = [t for t in names if _data(baseline, t) and _data(candidate, t) and _data(baseline, t) != _data(candidate, t)]
    if data:
        notes.append(f"warning: the data files differ between the runs (data_sha256) for: {', '.join(data[:10])}"
                     + (f" (+{len(data) - 10} more)" if len(data) > 10 else "") + "; the scores are not on the same data")
    engine = differences(baseline.engine, candidate.engine)
    if engine:
        notes.append("the runs differ in engine settings, so a score change may come from the engine, "
                     f"not the model: {'; '.join(engine)}")
    return notes


def _data(run: RunScores, task: str) -> tuple[Any, Any] | None:
    """What pinned a task's data: the local files' hash, else the hub revision (None: not recorded)."""
    spec = run.spec_hashes.get(task)
    if not isinstance(spec, dict) or not (spec.get("data_sha256") or spec.get("data_hub")):
        return None
    return (spec.get("data_sha256"), spec.get("data_revision"))


def _hash(run: RunScores, task: str) -> tuple[Any, Any] | None:
    spec = run.spec_hashes.get(task)
    return (spec.get("spec_hash"), spec.get("prompt_hash")) if isinstance(spec, dict) else None


# -- reporting --------------------------------------------------------------

def fmt_p(p: float) -> str:
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def _pts(x: float) -> str:
    return f"{x * 100:+.2f}"


def _ids(ids: list[int], limit: int | None) -> str:
    if limit is None or len(ids) <= limit:
        return ", ".join(map(str, ids))
    return ", ".join(map(str, ids[:limit])) + f", ... (+{len(ids) - limit} more)"


def _flips(t: TaskDiff, limit: int | None, open_: str, close: str) -> str:
    parts = [f"{name} {len(ids)} {open_}{_ids(ids, limit)}{close}"
             for name, ids in (("worse", t.worse_ids), ("better", t.better_ids)) if ids]
    return "; ".join(parts)


def _side(r: RunScores) -> str:
    return f"{r.label} (model {r.model}" + (f", run {r.run_id})" if r.run_id and r.run_id != r.label else ")")


def _verdict_line(c: Comparison) -> str:
    rule = f"alpha {c.alpha} after Holm over {sum(1 for t in c.tasks if t.test)} tasks, min delta {c.min_delta:g} points"
    if c.regressions:
        return f"verdict: REGRESSION in {len(c.regressions)} task(s): {', '.join(t.task for t in c.regressions)} ({rule})"
    return f"verdict: no significant regression ({rule})"


def to_text(c: Comparison, max_flips: int = 20) -> str:
    rows = [("task", "n", "base", "cand", "delta", "95% CI", "p", "p_holm", "test", "")]
    for t in c.tasks:
        if t.test is None:
            rows.append((t.task, "0", "-", "-", "-", "-", "-", "-", "-", "no paired docs"))
            continue
        s = t.test
        rows.append((t.task, str(s.n), f"{s.baseline_mean * 100:.2f}", f"{s.candidate_mean * 100:.2f}", _pts(s.delta),
                     f"[{_pts(s.ci_low)}, {_pts(s.ci_high)}]", fmt_p(s.p_value), fmt_p(t.p_adjusted), s.test,
                     t.verdict.upper()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {1, 2, 3, 4, 6, 7}
    lines = [f"baseline:  {_side(c.baseline)}", f"candidate: {_side(c.candidate)}", "scores in points (0-100)", ""]
    for r in rows:
        lines.append("  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip())
    flips = [t for t in c.tasks if t.worse_ids or t.better_ids]
    if flips:
        lines += ["", "flipped samples (doc ids):"]
        lines += [f"  {t.task}: {_flips(t, max_flips, '[', ']')}" for t in flips]
    unpaired = [t for t in c.tasks if t.only_baseline or t.only_candidate]
    if unpaired:
        lines += ["", "unpaired docs (not tested):"]
        lines += [f"  {t.task}: {t.only_baseline} only in baseline, {t.only_candidate} only in candidate" for t in unpaired]
    lines += [""] + [n if n.startswith("warning:") else f"note: {n}" for n in c.notes] + [_verdict_line(c)]
    return "\n".join(lines)


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("`", "'")


def to_markdown(c: Comparison, max_flips: int = 50) -> str:
    """A PR comment: verdict first, the table, flipped samples folded away."""
    head = (f"### evalkit compare: :x: regression in {len(c.regressions)} task(s)" if c.regressions
            else "### evalkit compare: :white_check_mark: no significant regression")
    lines = [head, "", f"Baseline `{_md(_side(c.baseline))}` → candidate `{_md(_side(c.candidate))}`", "",
             "| task | n | baseline | candidate | Δ (points) | 95% CI | p | p (Holm) | test | |",
             "|---|---:|---:|---:|---:|---|---:|---:|---|---|"]
    for t in c.tasks:
        if t.test is None:
            lines.append(f"| {_md(t.task)} | 0 | | | | | | | | no paired docs |")
            continue
        s = t.test
        mark = {"regression": "**regression**", "improvement": "improvement"}.get(t.verdict, "")
        lines.append(f"| {_md(t.task)} | {s.n} | {s.baseline_mean * 100:.2f} | {s.candidate_mean * 100:.2f} | "
                     f"{_pts(s.delta)} | [{_pts(s.ci_low)}, {_pts(s.ci_high)}] | {fmt_p(s.p_value)} | "
                     f"{fmt_p(t.p_adjusted)} | {s.test} | {mark} |")
    lines += ["", _verdict_line(c)]
    flips = [t for t in c.tasks if t.worse_ids or t.better_ids]
    if flips:
        lines += ["", "<details><summary>Flipped samples (doc ids)</summary>", ""]
        lines += [f"- `{_md(t.task)}`: {_flips(t, max_flips, '', '')}" for t in flips]
        lines += ["", "</details>"]
    lines += [f"> note: {_md(n)}" for n in c.notes]
    return "\n".join(lines) + "\n"


def to_json(c: Comparison) -> dict[str, Any]:
    def side(r: RunScores) -> dict[str, Any]:
        return {"label": r.label, "model": r.model, "run_id": r.run_id}

    def task(t: TaskDiff) -> dict[str, Any]:
        s = t.test
        stats = {} if s is None else {
            "test": s.test, "n": s.n, "baseline": s.baseline_mean, "candidate": s.candidate_mean, "delta": s.delta,
            "ci_low": s.ci_low, "ci_high": s.ci_high, "p_value": s.p_value, "n_worse": s.worse, "n_better": s.better}
        return {"task": t.task, **stats, "p_holm": t.p_adjusted, "verdict": t.verdict,
                "only_baseline": t.only_baseline, "only_candidate": t.only_candidate,
                "worse": t.worse_ids, "better": t.better_ids}

    return {"baseline": side(c.baseline), "candidate": side(c.candidate), "alpha": c.alpha,
            "min_delta_points": c.min_delta, "tasks": [task(t) for t in c.tasks],
            "regressions": [t.task for t in c.regressions], "improvements": [t.task for t in c.improvements],
            "notes": c.notes}


def render(c: Comparison, fmt: str, max_flips: int = 20) -> str:
    if fmt == "text":
        return to_text(c, max_flips)
    if fmt == "markdown":
        return to_markdown(c)
    if fmt == "json":
        return json.dumps(to_json(c), indent=2)
    raise ConfigError(f"unknown --format '{fmt}'{suggest(fmt, ['text', 'markdown', 'json'])}; use text, markdown or json")


FAIL_ON = ("none", "regression")


def run_cli(baseline: str, candidate: str, store: str, tasks: list[str] | None, fmt: str, fail_on: str,
            alpha: float, min_delta: float, resamples: int, seed: int, max_flips: int, by: str = "task") -> tuple[str, int]:
    """What `evalkit compare` prints, and its exit code (1: --fail-on regression and one was found)."""
    if fail_on not in FAIL_ON:
        raise ConfigError(f"unknown --fail-on '{fail_on}'{suggest(fail_on, FAIL_ON)}; use regression or none")
    if fmt not in ("text", "markdown", "json"):
        render_check = suggest(fmt, ["text", "markdown", "json"])
        raise ConfigError(f"unknown --format '{fmt}'{render_check}; use text, markdown or json")
    if max_flips < 0:
        raise ConfigError(f"--max-flips must be >= 0, got {max_flips}")
    if not math.isfinite(min_delta) or min_delta < 0:
        raise ConfigError(f"--min-delta must be a finite number of points >= 0, got {min_delta}")
    if resamples < 100:
        raise ConfigError(f"--resamples must be at least 100, got {resamples}")
    result = compare(load_run(baseline, store), load_run(candidate, store), tasks, alpha, min_delta, resamples, seed, by)
    return render(result, fmt, max_flips), int(fail_on == "regression" and bool(result.regressions))

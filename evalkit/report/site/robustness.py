"""The site's robustness page: format spread, option-order and few-shot charts,
read from what each run stored (its results rows and its config's ``robustness``)."""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from evalkit.report.site.svg import Bar, bar_chart


def _num(row: dict[str, Any], key: str) -> float | None:
    v = row.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def format_charts(run: Any) -> list[dict[str, Any]]:
    """One chart per task of a --formats run: its score in every format."""
    formats = (run.config.get("robustness") or {}).get("formats") or {}
    out = []
    for task, row in sorted(run.results.items()):
        if "@" in task or _num(row, "format_spread") is None:
            continue
        bars = []
        for i in range(len(formats) or 64):
            v = _num(row, f"format_{i}")
            if v is None:
                break
            desc = (formats.get(str(i)) or formats.get(i) or {}).get("describe", "")
            bars.append(Bar(f"format {i}" + (" (task's own)" if i == 0 else ""), v, None, desc))
        title = (f"{task} · spread {row['format_spread'] * 100:.1f} pts "
                 f"({row['format_min'] * 100:.1f}–{row['format_max'] * 100:.1f})")
        out.append({"title": title, "svg": Markup(bar_chart(title, bars)), "run": run, "file": f"{task}_formats"})
    return out


def order_charts(run: Any) -> list[dict[str, Any]]:
    """Per task of a --permute-options run: accuracy per order, all orders, consistency; and position bias."""
    out = []
    for task, row in sorted(run.results.items()):
        if "@" in task or _num(row, "answer_consistency") is None:
            continue
        metric = next(k[: -len("_all_orders")] for k in row if k.endswith("_all_orders"))
        bars = [Bar(f"order {j}", row[f"{metric}_order_{j}"]) for j in range(64) if f"{metric}_order_{j}" in row]
        bars += [Bar("right in all orders", row[f"{metric}_all_orders"]),
                 Bar("same answer in all orders", row["answer_consistency"])]
        out.append({"title": f"{task} · option orders", "svg": Markup(bar_chart(f"{task} · {metric} by option order", bars)),
                    "run": run, "file": f"{task}_orders"})
        letters = sorted({k[-1] for k in row if k.startswith("position_pick_") or k.startswith("position_gold_")})
        bias = []
        for c in letters:
            bias += [Bar(f"{c}: chosen", _num(row, f"position_pick_{c}") or 0.0), Bar(f"{c}: gold", _num(row, f"position_gold_{c}") or 0.0)]
        out.append({"title": f"{task} · position bias", "svg": Markup(bar_chart(f"{task} · position bias (share of answers)", bias)),
                    "run": run, "file": f"{task}_position_bias"})
    return out


def fewshot_charts(runs: list[Any]) -> list[dict[str, Any]]:
    """Per (model, task): the latest complete run of each --fewshot method, side by side."""
    latest: dict[tuple[str, str], dict[str, tuple[float, float | None, str]]] = {}
    for run in sorted(runs, key=lambda r: r.started):
        method = ((run.config.get("robustness") or {}).get("fewshot") or {}).get("method")
        if run.status != "complete" or not method:
            continue
        for task, row in run.results.items():
            spec = (run.config.get("task_specs") or {}).get(task)
            metric = next((k for k in row if isinstance(row[k], float) and not k.endswith("_stderr")), None)
            if spec is None or metric is None:
                continue
            se = _num(row, f"{metric}_stderr")
            latest.setdefault((run.model, task), {})[method] = (row[metric], None if se is None else 1.96 * se, run.run_id)
    out = []
    for (model, task), methods in sorted(latest.items()):
        bars = [Bar(m, v, ci, f"run {rid}") for m, (v, ci, rid) in sorted(methods.items())]
        out.append({"title": f"{task} · {model}", "svg": Markup(bar_chart(f"{task} · few-shot selection · {model}", bars)),
                    "file": f"{task}_fewshot"})
    return out


def page_data(runs: list[Any]) -> dict[str, list[dict[str, Any]]]:
    complete = [r for r in runs if r.status == "complete"]
    return {"formats": [c for r in complete for c in format_charts(r)],
            "orders": [c for r in complete for c in order_charts(r)],
            "fewshot": fewshot_charts(complete)}

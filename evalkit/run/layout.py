"""What a run's task names meant when it ran: its groups, main metrics and pooling.

The runner saves this with the run, so compare, leaderboards, the site and
export read a run as it was run, even after the task YAML has changed.
"""
from __future__ import annotations

from typing import Any


def group_of(catalog: Any, requested: tuple[str, ...] | list[str]) -> dict[str, str]:
    """leaf task -> the group it is pooled into: a group the run asked for first,
    else the largest catalog group that no other group contains."""
    members = {m for g in catalog.groups.values() for m in g.tasks}
    tops = sorted((g for g in catalog.groups if g not in members), key=lambda g: (-len(catalog.expand(g)), g))
    out: dict[str, str] = {}
    for g in [n for n in requested if n in catalog.groups] + tops:
        for leaf in catalog.expand(g):
            out.setdefault(leaf, g)
    return out


def run_layout(catalog: Any, requested: list[str], leaves: list[str]) -> dict[str, Any]:
    """{"groups": each requested group (and its subgroups) -> its direct members, as results.json
    has them; "leaves": every group touching the run -> its leaf tasks; "group_of": leaf -> pooling
    group; "main_metric": task or group -> the metric it is ranked on}."""
    have = set(leaves)
    direct = {g: list(catalog.groups[g].tasks) for g in catalog.subgroups(requested)}
    groups = {g: catalog.expand(g) for g in sorted(catalog.groups) if have & set(catalog.expand(g))}
    main = {t: catalog.tasks[t].metric for t in leaves if t in catalog.tasks}
    for g, members in groups.items():
        metrics = {catalog.tasks[t].metric for t in members if t in catalog.tasks}
        if len(metrics) == 1:
            main[g] = metrics.pop()
    pooled = {leaf: g for leaf, g in group_of(catalog, requested).items() if leaf in have}
    return {"groups": direct, "leaves": groups, "group_of": pooled, "main_metric": main}

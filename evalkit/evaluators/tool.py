"""The ``tool`` evaluator: tool-integrated reasoning (ToRA) or program-aided
answers (PAL) per the task's ``options.mode``; see ``evalkit.loops.tora``."""
from __future__ import annotations

from evalkit.core.errors import ConfigError
from evalkit.core.registry import evaluators, loops
from evalkit.core.types import SampleRecord
from evalkit.run.context import EvalContext, TaskRun


@evaluators.register("tool")
def evaluate_tool(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    by_mode: dict[str, list[TaskRun]] = {}
    for t in tasks:
        mode = t.spec.options.get("mode", "tora")
        if mode not in ("tora", "pal"):
            raise ConfigError(f"{t.spec.source_file}: task '{t.spec.name}': options.mode must be tora or pal, not {mode!r}")
        by_mode.setdefault(mode, []).append(t)
    out: dict[str, list[SampleRecord]] = {}
    for mode, group in by_mode.items():
        out.update(loops.get(mode)(group, ctx))
    return out

"""The ``critic`` evaluator: the CRITIC verify-critique-revise loop over a
generate task (``output_type: critic`` in a task file, or ``evalkit run
--critic`` on any generate task); see ``evalkit.loops.critic``."""
from __future__ import annotations

from evalkit.run.context import EvalContext, TaskRun
from evalkit.core.registry import evaluators
from evalkit.core.types import SampleRecord


@evaluators.register("critic")
def evaluate_critic(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    from evalkit.loops.critic import run_critic

    return run_critic(tasks, ctx)

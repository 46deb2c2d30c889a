"""The ``critic`` evaluator: the CRITIC verify-critique-revise loop over a
generate task (``output_type: critic`` in a task file, or ``evalkit run
--critic`` on any generate task); see ``evalkit.critics.critic``."""
from __future__ import annotations

from evalkit.evaluators.context import EvalContext, TaskRun
from evalkit.registry import evaluators
from evalkit.types import SampleRecord


@evaluators.register("critic")
def evaluate_critic(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    from evalkit.critics.critic import run_critic

    return run_critic(tasks, ctx)

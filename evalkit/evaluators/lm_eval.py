"""The ``lm_eval`` evaluator: tasks named ``lm_eval:<task>`` run through
lm-evaluation-harness with the evalkit backend (see ``evalkit.evaluators.lm_eval_bridge``).

lm-eval loads its own data and builds its own prompts, so these tasks reach
the runner as synthesized specs with no docs of their own.
"""
from __future__ import annotations

from typing import Any

from evalkit.core.registry import evaluators, task_sources
from evalkit.core.types import SampleRecord
from evalkit.evaluators import lm_eval_bridge as bridge
from evalkit.run.context import EvalContext, TaskRun
from evalkit.spec.taskspec import DatasetSpec, TaskSpec


@task_sources.register("lm_eval")
def task_runs(name: str, limit: int | float | None, options: dict[str, Any],
              overrides: dict[str, Any] | None = None) -> list[TaskRun]:
    """TaskRuns for ``lm_eval:<task>`` (one per leaf task of an lm-eval group)."""
    runs = []
    for leaf in bridge.resolve(name[len(bridge.PREFIX):], options):
        spec = TaskSpec(name=bridge.PREFIX + leaf.name, description=f"lm-eval task {leaf.name}",
                        output_type="lm_eval", dataset=DatasetSpec(format="lm_eval"), metric=leaf.metric,
                        options={"lm_eval_task": leaf.name, "lm_eval_output_type": leaf.output_type,
                                 "lm_eval_config_hash": leaf.config_hash, "limit": limit,
                                 "include_path": list(bridge.include_paths(options)), **(overrides or {})})
        runs.append(TaskRun(spec, []))
    return runs


@evaluators.register("lm_eval")
def evaluate_lm_eval(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    names = [t.spec.options["lm_eval_task"] for t in tasks]
    spec = tasks[0].spec.options  # --num-fewshot / --gen-kwargs, in lm-eval's names
    extra = {k: spec[k] for k in ("num_fewshot", "gen_kwargs") if k in spec}
    return bridge.evaluate(names, ctx, spec.get("limit"), ctx.options | extra)

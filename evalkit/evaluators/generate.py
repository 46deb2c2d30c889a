"""The ``generate`` evaluator: prompts in, generated text out, scored per doc.

Requests from every task reach the backend together (one batch for a whole
group such as BBH's 27 subtasks).

task spec -> requests -> backend -> responses -> aggregator -> scorer -> records
"""
from __future__ import annotations

from evalkit.core.registry import evaluators
from evalkit.core.types import Request, SampleRecord
from evalkit.run.context import EvalContext, TaskRun
from evalkit.scoring.docscorer import DocScorer


def build_requests(task: TaskRun, ctx: EvalContext) -> list[Request]:
    assert task.prompts is not None
    params = ctx.params(task.spec)
    return [Request(task.spec.name, d.id, task.prompts.render(d), params) for d in task.docs]


@evaluators.register("generate")
def evaluate_generate(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    per_task = [(t, build_requests(t, ctx)) for t in tasks]
    flat = [r for _, reqs in per_task for r in reqs]
    gens = iter(ctx.generate(flat))
    out: dict[str, list[SampleRecord]] = {}
    for task, reqs in per_task:
        scorer = DocScorer(task.spec, ctx.aggregator_for(ctx.params(task.spec)), getattr(task.prompts, "canonical", None))
        out[task.spec.name] = [scorer.record(d, r.prompt, next(gens).texts) for d, r in zip(task.docs, reqs)]
    return out

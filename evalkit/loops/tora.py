"""Tool-integrated reasoning for MATH: ToRA (Gou et al. 2024) and PAL (Gao et al. 2023).

ToRA: the model interleaves reasoning with ```python blocks. Generation stops
at the stop sequence "```output"; the block that just closed runs in the
sandbox (every chain of the round at once, ``run_many``), its stdout (truncated)
is appended as a ```output block and generation continues, up to
``max_tool_calls`` calls. The final ``\\boxed{}`` answer is graded by the task's
scorer (math_grader).

PAL: the prompt ends inside a ```python block; the model writes a program
(stop "```") whose last printed line is the answer.

Each of the n samples of a doc is a chain of its own (sample index k keeps its
seed and cache key). Each round sends every unfinished chain of every task in
ONE ``ctx.generate`` call; a round's prompt is the task prompt plus the
chain's text so far, so the generation cache resumes a killed run round by round.

Task ``options``: ``mode`` (tora | pal), ``max_tool_calls`` (4),
``output_chars`` (512, the tool output the model sees), ``timeout_s`` (10).
Run options (``RunConfig.options``) ``max_tool_calls`` overrides the task's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.loops.common import last_program, run_programs, scored_record, single, tool_text
from evalkit.run.context import EvalContext, TaskRun
from evalkit.scoring.docscorer import DocScorer
from evalkit.core.types import Doc, SampleRecord

OUTPUT_STOP = "```output"


@dataclass
class Chain:
    task: TaskRun
    doc: Doc
    sample: int
    prompt: str
    text: str = ""
    calls: int = 0
    done: bool = False
    answer: Any = None  # PAL: the printed answer
    trace: list[dict[str, Any]] = field(default_factory=list)


def tool_call(new: str) -> str | None:
    """The program to run when a generation ended on a closed ```python block
    (it stopped at "```output"), else None: the model has finished."""
    at = new.rfind("```python")
    if at < 0:
        return None
    tail = new[at:].rstrip()
    if tail.endswith(OUTPUT_STOP):  # a backend that keeps the stop string
        tail = tail[: -len(OUTPUT_STOP)].rstrip()
    if not tail.endswith("```") or tail.count("```") != 2:
        return None
    return last_program(tail)


def _opt(task: TaskRun, ctx: EvalContext, key: str, default: Any) -> Any:
    return ctx.options.get(key, task.spec.options.get(key, default))


def run_tora(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    params = {}
    for t in tasks:
        p = ctx.params(t.spec)
        params[t.spec.name] = replace(p, stop=tuple(dict.fromkeys((*p.stop, OUTPUT_STOP))))
    chains = [Chain(t, d, k, t.prompts.render(d)) for t in tasks for d in t.docs
              for k in range(params[t.spec.name].n)]
    max_calls = max((int(_opt(t, ctx, "max_tool_calls", 4)) for t in tasks), default=0)
    for rnd in range(max_calls + 1):
        live = [c for c in chains if not c.done]
        if not live:
            break
        reqs = [single(c.task.spec.name, c.doc.id, c.prompt + c.text, params[c.task.spec.name], c.sample) for c in live]
        gens = ctx.generate(reqs, label=f"tool round {rnd}")
        pending: list[tuple[Chain, str]] = []
        for c, g in zip(live, gens):
            new = g.texts[0]
            if new.rstrip().endswith(OUTPUT_STOP):
                new = new.rstrip()[: -len(OUTPUT_STOP)]
            c.text += new
            c.trace.append({"round": rnd, "sample": c.sample, "generated": new})
            prog = tool_call(new)
            if prog is not None and c.calls < int(_opt(c.task, ctx, "max_tool_calls", 4)):
                pending.append((c, prog))
            else:
                c.done = True
        timeout = float(max((_opt(t, ctx, "timeout_s", 10.0) for t in tasks), default=10.0))
        for (c, prog), res in zip(pending, run_programs([p for _, p in pending], timeout_s=timeout)):
            out = tool_text(res, int(_opt(c.task, ctx, "output_chars", 512)))
            if not c.text.endswith("\n"):
                c.text += "\n"
            c.text += f"{OUTPUT_STOP}\n{out}\n```\n"
            c.calls += 1
            c.trace[-1].update({"program": prog, "status": res.status, "tool_output": out})
    return _records(tasks, chains, ctx, lambda c, scorer: scorer.extract(c.text, c.doc, **c.task.spec.extractor_args))


def pal_answer(stdout: str) -> str | None:
    lines = [ln.strip() for ln in stdout.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else None


def run_pal(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    params = {t.spec.name: ctx.params(t.spec) for t in tasks}
    chains = [Chain(t, d, k, t.prompts.render(d)) for t in tasks for d in t.docs for k in range(params[t.spec.name].n)]
    reqs = [single(c.task.spec.name, c.doc.id, c.prompt, params[c.task.spec.name], c.sample) for c in chains]
    gens = ctx.generate(reqs, label="PAL programs")
    progs = []
    for c, g in zip(chains, gens):
        c.text = g.texts[0]
        progs.append(last_program(c.text, allow_unclosed=True) or last_program("```python\n" + c.text, allow_unclosed=True) or "")
    timeout = float(max((_opt(t, ctx, "timeout_s", 10.0) for t in tasks), default=10.0))
    for c, prog, res in zip(chains, progs, run_programs(progs, timeout_s=timeout)):
        c.answer = pal_answer(res.stdout) if res.passed else None
        c.calls = 1 if prog else 0
        c.trace.append({"round": 0, "sample": c.sample, "generated": c.text, "program": prog, "status": res.status,
                        "tool_output": tool_text(res, int(_opt(c.task, ctx, "output_chars", 512)))})
    return _records(tasks, chains, ctx, lambda c, scorer: c.answer)


def _records(tasks: list[TaskRun], chains: list[Chain], ctx: EvalContext, answer) -> dict[str, list[SampleRecord]]:
    out: dict[str, list[SampleRecord]] = {}
    by_doc: dict[tuple[str, int], list[Chain]] = {}
    for c in chains:
        by_doc.setdefault((c.task.spec.name, c.doc.id), []).append(c)
    for t in tasks:
        scorer = DocScorer(t.spec, ctx.aggregator_for(ctx.params(t.spec)))
        recs = []
        for d in t.docs:
            cs = by_doc.get((t.spec.name, d.id), [])
            calls = sum(c.calls for c in cs) / max(len(cs), 1)
            recs.append(scored_record(scorer, d, cs[0].prompt if cs else "", [c.text for c in cs],
                                      [answer(c, scorer) for c in cs], [e for c in cs for e in c.trace],
                                      {"tool_calls": calls}))
        out[t.spec.name] = recs
    return out

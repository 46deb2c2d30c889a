"""CRITIC as its paper ran it on GSM8K (Gou et al. 2023; microsoft/ProphetNet
CRITIC/src/program/inference.py, critic.py and evaluate.py).

Round 0 is a program of thought: the task prompt ends with "# Python code,
return answer", the model writes a program (greedy, 400 tokens, stop "\\n\\n")
that sets ``answer``, and the interpreter runs it. Rounds 1..4 (``max_rounds``):

1. the chain's latest round whose prediction is not None is the base;
2. the tool text is that program (comment lines dropped), "Execution: Done" or
   the error, and "Output: answer = X", then "What's the problem with the above
   code?"; the model writes a critique (500 tokens, stop "Here's", "---");
3. a separate call continues after "Here's a better solution:\\n```python\\n"
   with the revision (400 tokens, stop "```", "---"), always;
4. the revision runs; a revision equal to the base program is no correction,
   and the base's program, report and prediction are kept.

Critique and revision sample at ``critic_temperature`` (0.5, the setting of
the reported runs). Every round runs for every chain, as in the reference; the
stopping rules are applied when scoring (``rules.py``): None carried forward,
stop when unchanged twice, and the oracle variant that stops when correct.

Per-doc metrics: ``acc_round_r`` and ``oracle_acc_round_r`` for r = 0..R,
``acc_oracle`` (final oracle accuracy), ``flip_wrong_to_right`` /
``flip_right_to_wrong`` (round 0 vs final, CRITIC rules), ``critic_rounds``
(rounds before the stop). Each round's generations are in the trace (``gen``),
so ``--model replay:DIR`` re-scores a run without a model.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.core.registry import loops
from evalkit.core.types import Doc, SampleRecord
from evalkit.evaluators.generate import DocScorer
from evalkit.loops import rules
from evalkit.loops.common import critic_budgets, first_prompt, render, single
from evalkit.loops.program import floatify, run_for_value
from evalkit.run.context import EvalContext, TaskRun

BETTER = "Here's a better solution:\n```python\n"


@dataclass
class PotChain:
    task: TaskRun
    doc: Doc
    sample: int
    codes: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    preds: list[Any] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)

    def base(self) -> int:
        """The latest round whose prediction is not None (round 0 at worst)."""
        i = len(self.preds) - 1
        while i > 0 and self.preds[i] is None:
            i -= 1
        return i


def drop_comments(code: str) -> str:
    return "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith("#"))


def tool_context(question: str, code: str, report: str, pred: Any, use_tool: bool = True) -> str:
    """The text the critic sees for one program (the reference's ``context``)."""
    text = f"Question: {question}\n```python\n{drop_comments(code)}\n```\n"
    if use_tool:
        text += f"Execution: {report}\nOutput: answer = {pred}\n"
    return text + "\nWhat's the problem with the above code?\n\n"




def run_critic_program(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    p0 = {t.spec.name: ctx.params(t.spec) for t in tasks}
    crit, rev, R = critic_budgets(tasks, ctx, p0)
    timeout = float(max((ctx.option(t.spec, "timeout_s", 10.0) for t in tasks), default=10.0))
    chains = [PotChain(t, d, k) for t in tasks for d in t.docs for k in range(p0[t.spec.name].n)]
    prompts0 = {(t.spec.name, d.id): first_prompt(t, d) for t in tasks for d in t.docs}

    gens = ctx.generate([single(c.task.spec.name, c.doc.id, prompts0[c.task.spec.name, c.doc.id],
                                p0[c.task.spec.name], c.sample) for c in chains], label="critic round 0")
    codes = [g.texts[0].strip() for g in gens]
    for c, g, code, run in zip(chains, gens, codes, run_for_value(codes, "answer", timeout)):
        _append(c, code, run.report, floatify(run.value))
        c.trace.append({"round": 0, "sample": c.sample, "gen": [g.texts[0]], "code": code, "report": run.report,
                        "answer": c.preds[-1]})

    for rnd in range(1, max(R.values(), default=0) + 1):
        live = [c for c in chains if rnd <= R[c.task.spec.name]]
        if not live:
            break
        prompts = []
        for c in live:
            b = c.base()
            context = tool_context(_question(c.doc), c.codes[b], c.reports[b], c.preds[b],
                                   bool(ctx.option(c.task.spec, "use_tool", True)))
            prompts.append(render(c.task.spec.options.get("critic_prompt", "critic_gsm8k.j2"), c.doc, context=context))
        crits = ctx.generate([single(c.task.spec.name, c.doc.id, p, round_seed(crit[c.task.spec.name], rnd), c.sample)
                              for c, p in zip(live, prompts)], label=f"critic round {rnd} critique")
        prompts = [p + _with_newline(g.texts[0]) + BETTER for p, g in zip(prompts, crits)]
        revs = ctx.generate([single(c.task.spec.name, c.doc.id, p, round_seed(rev[c.task.spec.name], rnd), c.sample)
                             for c, p in zip(live, prompts)], label=f"critic round {rnd} revision")
        codes = [g.texts[0].strip() for g in revs]
        for c, cg, rg, code, run in zip(live, crits, revs, codes, run_for_value(codes, "answer", timeout)):
            b = c.base()
            step = {"round": rnd, "sample": c.sample, "gen": [cg.texts[0], rg.texts[0]], "base_round": b,
                    "critique": cg.texts[0].strip(), "code": code}
            if code.strip() == c.codes[b].strip():  # no correction: the base stands
                _append(c, c.codes[b], c.reports[b], c.preds[b])
                step["corrected"] = False
            else:
                _append(c, code, run.report, floatify(run.value))
                step["corrected"] = True
            step.update(report=c.reports[-1], answer=c.preds[-1])
            c.trace.append(step)
    return _records(tasks, chains, R, prompts0, {n: ctx.aggregator_for(p) for n, p in p0.items()})


def round_seed(p: Any, rnd: int) -> Any:
    """Each round samples afresh: a chain whose base program did not change
    sends the same prompt again, and with the run's seed the cache (and a
    seeded backend) would return the same critique, so at temperature > 0 the
    seed moves with the round (the reference calls the API anew each round)."""
    return p if p.temperature == 0 else replace(p, seed=p.seed + 1_000_003 * rnd)


def _append(c: PotChain, code: str, report: str, pred: Any) -> None:
    c.codes.append(code)
    c.reports.append(report)
    c.preds.append(pred)


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _question(doc: Doc) -> str:
    return str(doc.fields.get("question", doc.fields.get("problem", ""))).strip()


def critic_metrics(preds_by_chain: list[list[Any]], correct, aggregate, R: int) -> tuple[dict[str, float], list[Any]]:
    """Per-doc CRITIC metrics from each chain's raw predictions; ``correct``
    scores one answer, ``aggregate(answers) -> score`` combines the chains of a
    round. Returns (metrics, each chain's final answer under CRITIC's rules)."""
    normal = [rules.effective_answers(p, correct) for p in preds_by_chain]
    oracle = [rules.effective_answers(p, correct, oracle=True) for p in preds_by_chain]
    m: dict[str, float] = {}
    for r in range(R + 1):
        m[f"acc_round_{r}"] = aggregate([a[min(r, len(a) - 1)] for a, _ in normal])
        m[f"oracle_acc_round_{r}"] = aggregate([a[min(r, len(a) - 1)] for a, _ in oracle])
    m["acc_oracle"] = m[f"oracle_acc_round_{R}"]
    first, last = m["acc_round_0"] >= 1.0, m[f"acc_round_{R}"] >= 1.0
    m["flip_wrong_to_right"] = float(not first and last)
    m["flip_right_to_wrong"] = float(first and not last)
    m["critic_rounds"] = sum(R if s is None else s for _, s in normal) / max(len(normal), 1)
    return m, [a[-1] if a else None for a, _ in normal]


def _records(tasks: list[TaskRun], chains: list[PotChain], R: dict[str, int],
             prompts0: dict[tuple[str, int], str], aggs: dict[str, str]) -> dict[str, list[SampleRecord]]:
    by_doc: dict[tuple[str, int], list[PotChain]] = {}
    for c in chains:
        by_doc.setdefault((c.task.spec.name, c.doc.id), []).append(c)
    out: dict[str, list[SampleRecord]] = {}
    for t in tasks:
        spec = t.spec
        scorer = DocScorer(spec, aggs[spec.name])
        recs = []
        for d in t.docs:
            cs = by_doc.get((spec.name, d.id), [])
            metrics: dict[str, float] = {}
            finals = [c.preds[-1] for c in cs]
            try:
                target = scorer.target(d)

                def correct(a: Any) -> bool:
                    return scorer.score_fn(a, target, d, **spec.scorer_args).value >= 1.0

                def aggregate(answers: list[Any]) -> float:
                    return scorer.aggregate(answers, [float(correct(a)) for a in answers],
                                            scorer.equiv(d), spec.metric).score

                metrics, finals = critic_metrics([c.preds for c in cs], correct, aggregate, R[spec.name])
            except Exception:  # record_extracted below records the error on the sample
                pass
            recs.append(scorer.record_extracted(d, prompts0[spec.name, d.id], [c.codes[-1] for c in cs], finals,
                                      [e for c in cs for e in c.trace], metrics))
        out[spec.name] = recs
    return out


loops.register("critic:program")(run_critic_program)

"""CRITIC (Gou et al. 2023): verify with a tool, critique, revise; batched rounds.

Round 0 is the task's normal answer. Each later round, for every chain (one
per doc and sample) that has not stopped:

1. the tool verifies the current solution (``verifiers[options.critic_verifier]``;
   MATH: run the solution's last ```python block in the sandbox if it wrote one,
   else report whether a final answer can be extracted and parsed);
2. the model, given the problem, its solution and the tool output, writes a
   critique ending in a verdict ("The answer is correct." / "... incorrect.")
   and, when incorrect, a revised solution after "Revised solution:" -- one
   continuation, so a round is ONE ``ctx.generate`` call for every chain of
   every task;
3. the chain stops when the verdict says correct, when there is no revision,
   when the revised answer is equivalent to the previous one, or after
   ``max_rounds``.

A round's prompt is built only from the earlier rounds' outputs, so the
generation cache replays finished rounds after a kill.

Per-doc metrics: ``acc_round_r`` for r = 0..max_rounds (a chain that stopped
early carries its answer forward, so the mean is accuracy after round r; with
n samples the round's answers are aggregated like the final ones),
``flip_wrong_to_right`` / ``flip_right_to_wrong`` (0/1, round 0 vs final) and
``critic_rounds``. Every round is in ``SampleRecord.trace``.

Task ``options``: ``critic_prompt`` (critic_math.j2), ``critic_verifier`` (math),
``critic_max_rounds`` (3), ``critic_max_tokens`` (the task's max_tokens),
``critic_stop`` (["\\nProblem:"]). Run options ``max_rounds`` overrides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.benchmarks.math.grader import normalize_answer
from evalkit.core.errors import ConfigError
from evalkit.core.registry import loops, verifiers
from evalkit.core.types import Doc, SampleRecord
from evalkit.loops.common import first_prompt, last_program, render, run_programs, single, tool_text
from evalkit.run.context import EvalContext, TaskRun
from evalkit.scoring.docscorer import DocScorer

REVISE_MARK = "Revised solution:"
_VERDICT = re.compile(r"answer is (in|not )?correct", re.I)


@dataclass
class Chain:
    task: TaskRun
    doc: Doc
    sample: int
    scorer: DocScorer
    solution: str = ""
    answer: Any = None
    done: bool = False
    answers: list[Any] = field(default_factory=list)  # the answer after each round
    trace: list[dict[str, Any]] = field(default_factory=list)


def verify_math(chains: list[Chain]) -> list[str]:
    """Tool output for MATH solutions: the solution's program run in the sandbox
    (all of the round's programs at once), else a check of the final answer."""
    programs = {i: p for i, c in enumerate(chains) if (p := last_program(c.solution))}
    results = dict(zip(programs, run_programs(list(programs.values()))))
    out = []
    for i, c in enumerate(chains):
        if i in results:
            out.append("The program printed:\n" + (tool_text(results[i]) or "(nothing)"))
        elif c.answer is None:
            out.append("No final answer found: the solution must end with the answer in \\boxed{}.")
        else:
            norm = normalize_answer(str(c.answer))
            out.append(f"Final answer extracted: {c.answer}" + ("" if norm else " (it is empty after normalization)"))
    return out


def verify_code(chains: list[Chain]) -> list[str]:
    """Extension point for HumanEval-style tasks: run the completion against the
    examples in the prompt's docstring only (never the hidden tests)."""
    raise ConfigError("the --critic loop has no code verifier; run the task humaneval_critic "
                      "(CRITIC with the docstring's example calls as the tool)")


verifiers.register("math")(verify_math)
verifiers.register("code")(verify_code)


def parse_critique(text: str) -> tuple[str, bool | None, str | None]:
    """(critique, verdict: True correct / False incorrect / None none, revision or None)."""
    critique, _, tail = text.partition(REVISE_MARK)
    verdicts = _VERDICT.findall(critique)
    verdict = None if not verdicts else not verdicts[-1]
    revision = tail.strip() if tail.strip() else None
    return critique.strip(), verdict, revision




def run_critic(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    params = {t.spec.name: ctx.params(t.spec) for t in tasks}
    scorers = {t.spec.name: DocScorer(t.spec, ctx.aggregator_for(params[t.spec.name])) for t in tasks}
    rounds = {t.spec.name: int(ctx.option(t.spec, "max_rounds", task_key="critic_max_rounds", default=3)) for t in tasks}
    for name, r in rounds.items():
        if r < 0:
            raise ConfigError(f"task '{name}': max_rounds must be >= 0, got {r}")
    for t in tasks:
        verifiers.get(ctx.option(t.spec, "critic_verifier", "math"))  # unknown: one line naming the known
    chains = [Chain(t, d, k, scorers[t.spec.name]) for t in tasks for d in t.docs for k in range(params[t.spec.name].n)]
    prompts0 = {(t.spec.name, d.id): first_prompt(t, d) for t in tasks for d in t.docs}

    # round 0: the normal answer
    gens = ctx.generate([single(c.task.spec.name, c.doc.id, prompts0[c.task.spec.name, c.doc.id],
                                params[c.task.spec.name], c.sample) for c in chains], label="critic round 0")
    for c, g in zip(chains, gens):
        c.solution = g.texts[0]
        c.answer = _extract(c, c.solution)
        c.answers.append(c.answer)
        c.trace.append({"round": 0, "sample": c.sample, "gen": [g.texts[0]], "output": c.solution, "answer": c.answer})

    for rnd in range(1, max(rounds.values(), default=0) + 1):
        live = [c for c in chains if not c.done and rnd <= rounds[c.task.spec.name]]
        if not live:
            break
        tools: list[str] = [""] * len(live)
        by_verifier: dict[str, list[int]] = {}
        for i, c in enumerate(live):
            by_verifier.setdefault(ctx.option(c.task.spec, "critic_verifier", "math"), []).append(i)
        for name, idx in by_verifier.items():
            for i, text in zip(idx, verifiers.get(name)([live[i] for i in idx])):
                tools[i] = text
        reqs = []
        for c, tool in zip(live, tools):
            spec = c.task.spec
            p = params[spec.name]
            p = replace(p, max_tokens=int(spec.options.get("critic_max_tokens", p.max_tokens)),
                        stop=tuple(spec.options.get("critic_stop", ["\nProblem:"])))
            prompt = render(spec.options.get("critic_prompt", "critic_math.j2"), c.doc, solution=c.solution.strip(),
                            tool_output=tool)
            reqs.append(single(spec.name, c.doc.id, prompt, p, c.sample))
        gens = ctx.generate(reqs, label=f"critic round {rnd}")
        for c, tool, g in zip(live, tools, gens):
            critique, verdict, revision = parse_critique(g.texts[0])
            step: dict[str, Any] = {"round": rnd, "sample": c.sample, "gen": [g.texts[0]], "tool_output": tool,
                                    "critique": critique, "verdict": verdict}
            if verdict is True or revision is None:
                c.done = True
                step["stop"] = "verdict correct" if verdict is True else "no revision"
            else:
                # a revision without an answer keeps the previous one (CRITIC evaluate.py)
                new = _extract(c, revision)
                new = c.answer if new is None else new
                same = (new is None and c.answer is None) or (
                    new is not None and c.answer is not None and c.scorer.equiv(c.doc)(c.answer, new))
                c.solution, c.answer = revision, new
                step["revision"] = revision
                if same:
                    c.done = True
                    step["stop"] = "answer unchanged"
            step["answer"] = c.answer
            c.answers.append(c.answer)
            c.trace.append(step)
    return _records(tasks, chains, rounds, prompts0)


def _extract(c: Chain, text: str) -> Any:
    return c.scorer.extract(text, c.doc, **c.task.spec.extractor_args)


def _records(tasks: list[TaskRun], chains: list[Chain], rounds: dict[str, int],
             prompts0: dict[tuple[str, int], str]) -> dict[str, list[SampleRecord]]:
    by_doc: dict[tuple[str, int], list[Chain]] = {}
    for c in chains:
        by_doc.setdefault((c.task.spec.name, c.doc.id), []).append(c)
    out: dict[str, list[SampleRecord]] = {}
    for t in tasks:
        spec, R = t.spec, rounds[t.spec.name]
        recs = []
        for d in t.docs:
            cs = by_doc.get((spec.name, d.id), [])
            scorer = cs[0].scorer if cs else DocScorer(spec, "first")
            metrics: dict[str, float] = {}
            try:
                target = scorer.target(d)
                memo: dict[str, float] = {}

                def score(a: Any) -> float:
                    key = repr(a)
                    if key not in memo:
                        memo[key] = scorer.score_fn(a, target, d, **spec.scorer_args).value
                    return memo[key]

                for r in range(R + 1):
                    answers = [c.answers[min(r, len(c.answers) - 1)] for c in cs]
                    agg = scorer.aggregate(answers, [score(a) for a in answers], scorer.equiv(d), spec.metric)
                    metrics[f"acc_round_{r}"] = agg.score
                first, last = metrics["acc_round_0"] >= 1.0, metrics[f"acc_round_{R}"] >= 1.0
                metrics["flip_wrong_to_right"] = float(not first and last)
                metrics["flip_right_to_wrong"] = float(first and not last)
            except Exception:  # record_extracted below records the error
                pass
            metrics["critic_rounds"] = sum(len(c.answers) - 1 for c in cs) / max(len(cs), 1)
            recs.append(scorer.record_extracted(d, prompts0[spec.name, d.id], [c.solution for c in cs],
                                      [c.answer for c in cs], [e for c in cs for e in c.trace], metrics))
        out[spec.name] = recs
    return out


loops.register("critic:cot")(run_critic)

"""CRITIC with the Python interpreter on HumanEval (``critic_mode: code``).

The CRITIC paper's program setting is GSM8K-style math (``critic_program``);
this carries its loop to code synthesis, as the CRITIC code-tool setting of
later work does: round 0 is the task's completion; each round the tool runs
the completed function on the example calls of the problem's docstring
(``>>> f(x)`` and the expected line after it; never the hidden tests) and
reports "Execution: Done" or the error, and each call's value against the
expected one; the model writes a critique (500 tokens, stop "Here's"/"---")
and then, in a separate call, a revision after "Here's a better solution:"
(400 tokens, stop "```"/"---"), at ``critic_temperature`` (0.5), for
``critic_max_rounds`` (4) rounds. The example values are compared here, on
the trusted side, from the repr the program prints.

Each round's completion is scored by the hidden tests; the scoring rules are
CRITIC's (``rules.py``): an empty revision keeps the previous completion,
stop when the completion is unchanged twice, and the oracle variant.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Any

from evalkit.benchmarks.humaneval import check_humaneval, extract_code
from evalkit.core.registry import loops
from evalkit.core.types import Doc, SampleRecord
from evalkit.loops.common import critic_budgets, first_prompt, render, run_programs, single
from evalkit.loops.critic_program import BETTER, critic_metrics, round_seed
from evalkit.loops.program import MARK
from evalkit.run.context import EvalContext, TaskRun

MAX_EXAMPLES = 5


@dataclass
class CodeChain:
    task: TaskRun
    doc: Doc
    sample: int
    completions: list[str | None] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)

    def current(self) -> str:
        return next((c for c in reversed(self.completions) if c is not None), "")


def docstring_examples(prompt: str, limit: int = MAX_EXAMPLES) -> list[tuple[str, str]]:
    """(call, expected) pairs from ``>>> call`` lines followed by an expected line."""
    lines = [ln.strip() for ln in prompt.splitlines()]
    out = []
    for i, ln in enumerate(lines[:-1]):
        nxt = lines[i + 1]
        if ln.startswith(">>> ") and nxt and not nxt.startswith(">>>") and not nxt.startswith('"""'):
            out.append((ln[4:].strip(), nxt))
    return out[:limit]


def example_program(prompt: str, completion: str, examples: list[tuple[str, str]]) -> str:
    """Prints MARK + [index, repr of the value or None, error or None] per example call."""
    calls = "".join(
        f"try:\n    print({MARK!r} + __j.dumps([{i}, repr({call}), None]))\n"
        f"except BaseException as __e:\n    print({MARK!r} + __j.dumps([{i}, None, type(__e).__name__ + ': ' + str(__e)[:200]]))\n"
        for i, (call, _) in enumerate(examples))
    return f"{prompt}{completion}\n\nimport json as __j\n{calls}"


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def tool_report(res: Any, examples: list[tuple[str, str]]) -> str:
    """The interpreter's verdict on the examples, as the critic reads it."""
    seen: dict[int, tuple[str | None, str | None]] = {}
    for line in res.stdout.splitlines():
        if line.startswith(MARK):
            try:
                i, got, err = json.loads(line[len(MARK):])
                seen[int(i)] = (got, err)
            except (ValueError, TypeError):
                continue
    if not seen and not res.passed:
        return f"Execution: {res.reason or res.status}"
    lines = ["Execution: Done" if res.passed else f"Execution: {res.reason or res.status}"]
    for i, (call, expected) in enumerate(examples):
        got, err = seen.get(i, (None, "not reached"))
        if err is not None:
            lines.append(f"{call} raised {err}; expected {expected}")
        else:
            ok = got == expected or _literal(got or "") == _literal(expected)
            lines.append(f"{call} returned {got}" + ("" if ok else f"; expected {expected}"))
    return "\n".join(lines)




def run_critic_code(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    p0 = {t.spec.name: ctx.params(t.spec) for t in tasks}
    crit, rev, R = critic_budgets(tasks, ctx, p0)
    chains = [CodeChain(t, d, k) for t in tasks for d in t.docs for k in range(p0[t.spec.name].n)]
    prompts0 = {(t.spec.name, d.id): first_prompt(t, d) for t in tasks for d in t.docs}
    gens = ctx.generate([single(c.task.spec.name, c.doc.id, prompts0[c.task.spec.name, c.doc.id],
                                p0[c.task.spec.name], c.sample) for c in chains], label="critic round 0")
    for c, g in zip(chains, gens):
        c.completions.append(g.texts[0])
        c.trace.append({"round": 0, "sample": c.sample, "gen": [g.texts[0]]})
    for rnd in range(1, max(R.values(), default=0) + 1):
        live = [c for c in chains if rnd <= R[c.task.spec.name]]
        if not live:
            break
        exs = [docstring_examples(c.doc.fields["prompt"]) for c in live]
        runs = run_programs([example_program(c.doc.fields["prompt"], c.current(), e) for c, e in zip(live, exs)])
        prompts = []
        for c, e, res in zip(live, exs, runs):
            code = c.doc.fields["prompt"] + c.current()
            context = (f"```python\n{code.rstrip()}\n```\n{tool_report(res, e)}\n\n"
                       "What's the problem with the above code?\n\n")
            prompts.append(render(c.task.spec.options.get("critic_prompt", "critic_code.j2"), c.doc, context=context))
        crits = ctx.generate([single(c.task.spec.name, c.doc.id, p, round_seed(crit[c.task.spec.name], rnd), c.sample)
                              for c, p in zip(live, prompts)], label=f"critic round {rnd} critique")
        prompts = [p + g.texts[0] + ("" if g.texts[0].endswith("\n") else "\n") + BETTER for p, g in zip(prompts, crits)]
        revs = ctx.generate([single(c.task.spec.name, c.doc.id, p, round_seed(rev[c.task.spec.name], rnd), c.sample)
                             for c, p in zip(live, prompts)], label=f"critic round {rnd} revision")
        for c, res, cg, rg in zip(live, runs, crits, revs):
            new = extract_code(rg.texts[0], c.doc.fields["entry_point"], c.doc.fields["prompt"]) if rg.texts[0].strip() else ""
            c.completions.append(new if new.strip() else None)
            c.trace.append({"round": rnd, "sample": c.sample, "gen": [cg.texts[0], rg.texts[0]],
                            "tool_output": tool_report(res, docstring_examples(c.doc.fields["prompt"])),
                            "critique": cg.texts[0].strip(), "completion": c.completions[-1]})
    return _records(tasks, chains, R, prompts0)


def _records(tasks: list[TaskRun], chains: list[CodeChain], R: dict[str, int],
             prompts0: dict[tuple[str, int], str]) -> dict[str, list[SampleRecord]]:
    todo = sorted({(c.task.spec.name, c.doc.id, x) for c in chains for x in c.completions if x is not None})
    docs = {(c.task.spec.name, c.doc.id): c.doc for c in chains}
    results = check_humaneval([docs[k[0], k[1]].fields for k in todo], [k[2] for k in todo])
    passed = {k: r.passed for k, r in zip(todo, results)}
    out: dict[str, list[SampleRecord]] = {t.spec.name: [] for t in tasks}
    for t in tasks:
        for d in t.docs:
            cs = [c for c in chains if c.task is t and c.doc.id == d.id]

            def correct(a: Any) -> bool:
                return a is not None and passed.get((t.spec.name, d.id, a), False)

            def aggregate(answers: list[Any]) -> float:
                return sum(correct(a) for a in answers) / max(len(answers), 1)

            preds = [[x.strip() if x is not None else None for x in c.completions] for c in cs]
            by_strip = {(x.strip() if x else x): x for c in cs for x in c.completions}
            m, finals = critic_metrics(preds, lambda a: correct(by_strip.get(a)),
                                       lambda ans: aggregate([by_strip.get(a) for a in ans]), R[t.spec.name])
            finals = [by_strip.get(a) for a in finals]
            score = m[f"acc_round_{R[t.spec.name]}"]
            out[t.spec.name].append(SampleRecord(
                t.spec.name, d.id, prompts0[t.spec.name, d.id], [f or "" for f in finals], d.fields.get("task_id"),
                finals[0] if finals else None, score, {t.spec.metric: score, **m}, finals,
                [float(correct(f)) for f in finals], trace=[e for c in cs for e in c.trace]))
    return out


loops.register("critic:code")(run_critic_code)

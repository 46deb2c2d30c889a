"""Tool-integrated reasoning: ToRA (Gou et al. 2024) and PAL (Gao et al. 2023),
for MATH and GSM8K, as microsoft/ToRA src/infer/inference.py runs them.

ToRA: the model interleaves reasoning with ```python blocks. Generation stops
at "```output"; when a generation ends on a closed block and holds no
``\\boxed``, the block runs in the sandbox (every chain of the round at once)
and its stdout, else its error line, cut to ``output_chars`` (100) as
first-half...last-half, is appended as a ```output block. There are
``max_tool_calls`` (4) generations; the program of the last one still runs,
followed by "Reach max function call limit.". ``options.answer: tora`` takes
the answer as the reference does (``tora_answer``: \\boxed{}, "the answer is",
the last ```output block, the last number); otherwise the task's extractor.

PAL: one program per chain; with ``options.answer_expr`` ("solution()") the
answer is that expression's value (``critics.program``); without it (evalkit's
lighter variant) the last printed line.

Each of the n samples of a doc is a chain of its own (sample index k keeps its
seed and cache key). Each round sends every unfinished chain of every task in
ONE ``ctx.generate`` call; a round's prompt is the task prompt plus the
chain's text so far, so the generation cache resumes a killed run round by
round, and every generation is in the trace (``gen``) for replay.

Task ``options``: ``mode`` (tora | pal), ``max_tool_calls`` (4),
``output_chars``, ``timeout_s`` (10), ``answer``, ``answer_expr``.
Run options (``RunConfig.options``) ``max_tool_calls`` overrides the task's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from evalkit.core.registry import loops
from evalkit.core.types import Doc, SampleRecord
from evalkit.loops.common import MATH_PACKAGES, first_prompt, last_program, run_programs, single, tool_text
from evalkit.run.context import EvalContext, TaskRun
from evalkit.scoring.docscorer import DocScorer

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




def run_tora(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    params = {}
    for t in tasks:
        p = ctx.params(t.spec)
        params[t.spec.name] = replace(p, stop=tuple(dict.fromkeys((*p.stop, OUTPUT_STOP))))
    chains = [Chain(t, d, k, first_prompt(t, d)) for t in tasks for d in t.docs
              for k in range(params[t.spec.name].n)]
    calls = {t.spec.name: int(ctx.option(t.spec, "max_tool_calls", 4)) for t in tasks}
    timeout = float(max((ctx.option(t.spec, "timeout_s", 10.0) for t in tasks), default=10.0))
    # As microsoft/ToRA: max_tool_calls generations; a generation that ends on a
    # closed program (and has no \boxed) runs it, the last one included, whose
    # output is appended with "Reach max function call limit."
    for rnd in range(max(calls.values(), default=0)):
        live = [c for c in chains if not c.done and rnd < calls[c.task.spec.name]]
        if not live:
            break
        reqs = [single(c.task.spec.name, c.doc.id, c.prompt + c.text, params[c.task.spec.name], c.sample) for c in live]
        gens = ctx.generate(reqs, label=f"tool round {rnd}")
        pending: list[tuple[Chain, str]] = []
        for c, g in zip(live, gens):
            new = g.texts[0].rstrip()
            if new.endswith(OUTPUT_STOP):
                new = new[: -len(OUTPUT_STOP)].rstrip()
            c.text += new
            c.trace.append({"round": rnd, "sample": c.sample, "gen": [g.texts[0]], "generated": new})
            prog = tool_call(new) if "boxed" not in new else None
            if prog is not None:
                pending.append((c, prog))
            else:
                c.done = True
        for (c, prog), res in zip(pending, run_programs([p for _, p in pending], timeout_s=timeout, packages=MATH_PACKAGES)):
            out = tora_output(res, int(ctx.option(c.task.spec, "output_chars", 100)))
            c.text += f"\n{OUTPUT_STOP}\n{out}\n```\n"
            c.calls += 1
            if c.calls >= calls[c.task.spec.name]:
                c.text += "\nReach max function call limit."
                c.done = True
            c.trace[-1].update({"program": prog, "status": res.status, "tool_output": out})
    return _records(tasks, chains, ctx, _tora_extract)


def _tora_extract(c: Chain, scorer: DocScorer) -> Any:
    if c.task.spec.options.get("answer") == "tora":
        return tora_answer(c.text)
    return scorer.extract(c.text, c.doc, **c.task.spec.extractor_args)


def tora_output(res: Any, max_chars: int = 100) -> str:
    """What the model sees of a run (microsoft/ToRA): stdout, else the error
    line; longer than ``max_chars``: its first and last halves around "..."."""
    out = res.stdout.strip() or (res.error_text or res.reason or res.status if not res.passed else "")
    half = max_chars // 2
    return out if len(out) <= max_chars else out[:half] + "..." + out[-half:]


_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")


def boxed_content(text: str) -> str:
    """The braces' content after the last "boxed" (unbalanced: to the end)."""
    tail = text.split("boxed")[-1]
    if not tail.startswith("{"):
        return tail.split("$")[0].strip()
    depth, out = 1, []
    for ch in tail[1:]:
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            break
        out.append(ch)
    return "".join(out)


def tora_answer(text: str) -> str | None:
    """ToRA's answer (microsoft/ToRA src/utils/parser.py extract_answer): the
    generation after its last "Question:", then \\boxed{}, else what follows
    "he answer is", else the last ```output block, else the last number;
    first line only, a leading ":" and a trailing "." or "/" dropped."""
    text = text.split("Question:")[-1]
    if "boxed" in text:
        pred = boxed_content(text)
    elif "he answer is" in text:
        pred = text.split("he answer is")[-1].strip()
    elif OUTPUT_STOP in text:
        pred = text.split(OUTPUT_STOP)[-1].split("```")[0].strip()
    else:
        nums = _LAST_NUMBER.findall(text.replace(",", ""))
        pred = nums[-1] if nums else ""
    pred = pred.split("\n")[0].strip()
    pred = pred[1:] if pred.startswith(":") else pred
    pred = pred[:-1] if pred.endswith((".", "/")) else pred
    return pred.strip() or None


def pal_answer(stdout: str) -> str | None:
    lines = [ln.strip() for ln in stdout.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else None


def run_pal(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    """PAL: one program per chain. With ``options.answer_expr`` (the reference:
    "solution()") the answer is that expression's value after the program ran;
    without it, evalkit's lighter variant reads the last printed line."""
    from evalkit.loops.program import run_for_value

    params = {t.spec.name: ctx.params(t.spec) for t in tasks}
    chains = [Chain(t, d, k, first_prompt(t, d)) for t in tasks for d in t.docs for k in range(params[t.spec.name].n)]
    reqs = [single(c.task.spec.name, c.doc.id, c.prompt, params[c.task.spec.name], c.sample) for c in chains]
    gens = ctx.generate(reqs, label="PAL programs")
    progs = []
    for c, g in zip(chains, gens):
        c.text = g.texts[0]
        progs.append(last_program(c.text, allow_unclosed=True) or last_program("```python\n" + c.text, allow_unclosed=True) or "")
    timeout = float(max((ctx.option(t.spec, "timeout_s", 10.0) for t in tasks), default=10.0))
    by_expr: dict[str | None, list[int]] = {}
    for i, c in enumerate(chains):
        by_expr.setdefault(c.task.spec.options.get("answer_expr"), []).append(i)
    for expr, idx in by_expr.items():
        if expr is None:
            for i, res in zip(idx, run_programs([progs[i] for i in idx], timeout_s=timeout, packages=MATH_PACKAGES)):
                c = chains[i]
                c.answer = pal_answer(res.stdout) if res.passed else None
                _pal_step(c, progs[i], res.status, tool_text(res, int(ctx.option(c.task.spec, "output_chars", 512))))
            continue
        for i, run in zip(idx, run_for_value([progs[i] for i in idx], expr, timeout, MATH_PACKAGES)):
            c = chains[i]
            c.answer = None if run.value is None else str(run.value)
            _pal_step(c, progs[i], run.status, run.report if c.answer is None else c.answer)
    return _records(tasks, chains, ctx, lambda c, scorer: c.answer)


def _pal_step(c: Chain, prog: str, status: str, tool_output: str) -> None:
    c.calls = 1 if prog else 0
    c.trace.append({"round": 0, "sample": c.sample, "gen": [c.text], "generated": c.text, "program": prog,
                    "status": status, "tool_output": tool_output})


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
            recs.append(scorer.record_extracted(d, cs[0].prompt if cs else "", [c.text for c in cs],
                                      [answer(c, scorer) for c in cs], [e for c in cs for e in c.trace],
                                      {"tool_calls": calls}))
        out[t.spec.name] = recs
    return out


loops.register("tora")(run_tora)


loops.register("pal")(run_pal)

"""The ``multiple_choice`` evaluator: pick the choice the model finds most likely.

For each doc the prompt is the context and every choice is a continuation
(after ``options.delimiter``, " " by default); the backend scores
log P(choice | prompt). As lm-eval reports them:

* ``acc``: the highest log-likelihood is a correct choice;
* ``acc_norm``: the same after dividing each log-likelihood by the length of
  its choice in characters, which removes the bias towards short choices.

With several correct choices (multi-answer items) the pick counts when it is
one of them. Task settings (``options``): ``choices``, the record field with
the choice texts (default "choices"). The reference (``target``) is a choice
index, option letters ("B", "AD", ["A", "C"]) or a list of indices.
"""
from __future__ import annotations

import logging
import re
from typing import Any, cast

from evalkit.core import progress
from evalkit.core.errors import BackendError, ScoringError
from evalkit.core.registry import evaluators
from evalkit.core.types import Doc, Loglikelihood, LoglikelihoodRequest, SampleRecord
from evalkit.models.base import Backend
from evalkit.run.context import EvalContext, TaskRun

log = logging.getLogger("evalkit")

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CHUNK = 256  # requests per backend call, so the progress bar moves
_PREFIX = re.compile(r"\s*[(（]?([A-Z])\s*[)）.．、:：]?(?![A-Za-z])")


def choice_letters(texts: list[str]) -> str:
    """The letter of each choice: the one its text starts with ("(B)...", "B．...")
    when those letters are exactly A, B, C... in some order (some AGIEval items
    list their options as A, C, B, D), else its position."""
    positional = LETTERS[:len(texts)]
    found = [m.group(1) if (m := _PREFIX.match(t)) else "" for t in texts]
    return "".join(found) if sorted(found) == list(positional) else positional


def gold_indices(target: Any, letters: str) -> set[int]:
    """Indices of the correct choices; ScoringError when the record names none."""
    items = target if isinstance(target, list) else [target]
    out: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(letters):
            out.add(item)
        elif isinstance(item, str):
            out.update(letters.index(c) for c in item if c in letters)
    if not out:
        raise ScoringError(f"the record has no gold choice (target {target!r}); it counts as wrong")
    return out


class _Doc:
    """One doc's prompt and choices, and what became of it."""

    def __init__(self, task: TaskRun, doc: Doc):
        self.doc = doc
        self.prompt = ""
        self.choices: list[str] = []
        self.error = ""
        try:
            assert task.prompts is not None
            self.prompt = task.prompts.render(doc)
            field = task.spec.options.get("choices", "choices")
            raw = doc.fields.get(field)
            if not isinstance(raw, list) or not raw:
                raise ScoringError(f"field '{field}' holds no list of choices")
            self.choices = [str(c).strip() for c in raw]
        except ScoringError as exc:
            self.error = str(exc)

    def requests(self, task: TaskRun) -> list[LoglikelihoodRequest]:
        delim = task.spec.options.get("delimiter", " ")
        return [LoglikelihoodRequest(task.spec.name, self.doc.id, self.prompt, delim + c) for c in self.choices]


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))  # first of equal maxima


def score_doc(task: TaskRun, d: _Doc, lls: list[Loglikelihood]) -> SampleRecord:
    spec = task.spec
    target = d.doc.fields.get(spec.target)
    try:
        if d.error:
            raise ScoringError(d.error)
        letters = choice_letters(d.choices)
        gold = gold_indices(target, letters)
        logprobs = [ll.logprob for ll in lls]
        pick = _argmax(logprobs)
        pick_norm = _argmax([lp / max(len(c), 1) for lp, c in zip(logprobs, d.choices)])
        acc, acc_norm = float(pick in gold), float(pick_norm in gold)
        trace = [{"choice": letters[i], "logprob": ll.logprob, "chars": len(d.choices[i]), "greedy": ll.is_greedy}
                 for i, ll in enumerate(lls)]
        return SampleRecord(spec.name, d.doc.id, d.prompt, [d.choices[pick]], "".join(sorted(letters[i] for i in gold)),
                            letters[pick], acc, {spec.metric: acc, f"{spec.metric}_norm": acc_norm},
                            trace=trace, extra={k: d.doc.fields.get(k) for k in spec.breakdown})
    except ScoringError as exc:
        log.warning("scoring %s doc %s failed: %s", spec.name, d.doc.id, exc)
        return SampleRecord(spec.name, d.doc.id, d.prompt, [], target if isinstance(target, (str, int, list)) else None,
                            None, 0.0, {spec.metric: 0.0, f"{spec.metric}_norm": 0.0}, error=f"ScoringError: {exc}",
                            extra={k: d.doc.fields.get(k) for k in spec.breakdown})


def loglikelihoods(requests: list[LoglikelihoodRequest], ctx: EvalContext, names: list[str]) -> list[Loglikelihood]:
    out: list[Loglikelihood] = []
    with progress.bar("scoring choices", total=len(requests)) as (advance, _):
        for i in range(0, len(requests), CHUNK):
            try:
                out.extend(cast(Backend, ctx.backend).loglikelihood(requests[i:i + CHUNK]))  # not a retrieval task
            except BackendError as exc:
                tasks = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                raise BackendError(f"{tasks}: output_type multiple_choice needs log-likelihoods, but {exc}",
                                   exc.retryable) from None
            advance(len(requests[i:i + CHUNK]))
    return out


@evaluators.register("multiple_choice")
def evaluate_multiple_choice(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    per_task = [(t, [_Doc(t, d) for d in t.docs]) for t in tasks]
    flat = [r for t, docs in per_task for d in docs for r in d.requests(t)]
    lls = iter(loglikelihoods(flat, ctx, [t.spec.name for t in tasks]))
    out: dict[str, list[SampleRecord]] = {}
    for task, docs in per_task:
        out[task.spec.name] = [score_doc(task, d, [next(lls) for _ in d.choices]) for d in docs]
    return out

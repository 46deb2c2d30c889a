"""CRITIC's scoring rules, as pure functions over one chain's answers.

The reference (microsoft/ProphetNet CRITIC/src/program/evaluate.py) runs every
round and applies the stopping rules when it scores:

* a round whose prediction is None keeps the previous prediction;
* CRITIC stops at the first round i >= 2 whose prediction equals those of
  rounds i-1 and i-2 (no correction twice), and every later round counts as
  round i;
* CRITIC (oracle) stops at the first round that is correct.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence


def carry_forward(preds: Sequence[Any]) -> list[Any]:
    """None replaced by the latest earlier prediction (a leading None stays)."""
    out: list[Any] = []
    for p in preds:
        out.append(out[-1] if p is None and out else p)
    return out


def unchanged_twice(preds: Sequence[Any]) -> int | None:
    """The first index i >= 2 with preds[i] == preds[i-1] == preds[i-2], else None."""
    return next((i for i in range(2, len(preds)) if preds[i] == preds[i - 1] == preds[i - 2]), None)


def first_correct(preds: Sequence[Any], correct: Callable[[Any], bool]) -> int | None:
    return next((i for i, p in enumerate(preds) if correct(p)), None)


def frozen_after(preds: Sequence[Any], stop: int | None) -> list[Any]:
    """The answers a scorer sees per round once the chain stopped at ``stop``."""
    if stop is None:
        return list(preds)
    return [preds[min(i, stop)] for i in range(len(preds))]


def effective_answers(preds: Sequence[Any], correct: Callable[[Any], bool], oracle: bool = False) -> tuple[list[Any], int | None]:
    """(answer per round under CRITIC's rules, the round it stopped at or None)."""
    cf = carry_forward(preds)
    stop = first_correct(cf, correct) if oracle else unchanged_twice(cf)
    return frozen_after(cf, stop), stop

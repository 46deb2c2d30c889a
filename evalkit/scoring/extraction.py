"""What every extractor shares: the three outcomes and the hedge test.

An output either commits to one answer (``answered``), names no answer in the
place the policy looks (``no_answer``), or names two or more different answers
joined as alternatives or as a list where one answer is asked for
(``hedged``). A hedge scores 0 like no answer, but is counted apart, so a
model that hedges is visible (``hedge_rate``). The rules per answer format are
in docs/extraction.md; every function here is linear in the output length.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

ANSWERED, NO_ANSWER, HEDGED = "answered", "no_answer", "hedged"
MAX_MENTIONS = 1000  # one answer repeated this often is that answer: read no further
STATUSES = (ANSWERED, NO_ANSWER, HEDGED)


@dataclass(frozen=True)
class Extraction:
    """An extractor's verdict: the answer (None unless answered) and why."""

    answer: Any
    status: str

    @classmethod
    def of(cls, answer: Any) -> "Extraction":
        return cls(answer, ANSWERED if answer is not None else NO_ANSWER)


NONE = Extraction(None, NO_ANSWER)
HEDGE = Extraction(None, HEDGED)

# Words that put two answers side by side, English and Chinese. "or"-like
# joiners offer alternatives; "and"-like ones list several answers. Where one
# answer is asked for, both are hedges; where a set is asked for (AGIEval
# multi-answer subsets) only the alternatives are.
OR_WORDS = r"or|either|nor|还是|或者|或是|或"
AND_WORDS = r"and|both|as well as|和|及|与|以及|跟|都"
_GAP = re.compile(
    rf"\s*(?:[,，、;；/&]|\b(?:{OR_WORDS}|{AND_WORDS})\b|(?:{OR_WORDS}|{AND_WORDS}))?\s*"
    rf"(?:\b(?:{OR_WORDS}|{AND_WORDS})\b\s*)?", re.I)
_OR_GAP = re.compile(r"\s*(?:,\s*)?(?:/|(?:\b(?:or|nor)\b|还是|或者|或是|或))\s*(?:either\s*)?", re.I)


def joined(gap: str) -> bool:
    """True when ``gap`` (the text between two answers) only joins them: "or",
    "and", ",", "/", "或者", "和", "、"... A gap of prose ("because", "not") is
    no join."""
    return len(gap) <= 40 and _GAP.fullmatch(gap) is not None


def alternatives(gap: str) -> bool:
    """True when ``gap`` offers the two answers as alternatives ("or", "/", "或")."""
    return len(gap) <= 40 and _OR_GAP.fullmatch(gap) is not None


def hedged(mentions: Iterable[tuple[int, int, Any]], span: str,
           tail_ok: Callable[[str], bool] = lambda rest: True) -> bool:
    """Whether the first two different answers mentioned in ``span`` are joined as
    a pair ("(A) or (D)", "True or False", "24 or 25", "Yes and No").
    ``mentions`` are (start, end, value) in order, read lazily up to that pair;
    ``tail_ok(rest)`` says whether the text after the second may end an answer
    (so "Yes, no doubt" is no hedge)."""
    it = itertools.islice(mentions, MAX_MENTIONS)
    prev = next(it, None)
    if prev is None:
        return False
    for cur in it:
        if cur[2] == prev[2]:
            prev = cur
            continue
        return joined(span[prev[1]:cur[0]]) and tail_ok(span[cur[1]:cur[1] + 200])
    return False


def status_counts(statuses: Sequence[str]) -> dict[str, float]:
    """no_answer_rate and hedge_rate of one doc's outputs (fractions)."""
    n = len(statuses) or 1
    return {"no_answer_rate": sum(s == NO_ANSWER for s in statuses) / n,
            "hedge_rate": sum(s == HEDGED for s in statuses) / n}


def explain(extract: Callable[..., Any], text: str, doc: Any, **args: Any) -> Extraction:
    """An extractor's Extraction: its own ``explain`` when it has one, else
    answered/no_answer from whether it found anything."""
    how = getattr(extract, "explain", None)
    if how is not None:
        return how(text, doc, **args)
    return Extraction.of(extract(text, doc, **args))


def last_cue(text: str, lowered: str, cues: Sequence[str]) -> int:
    """End of the last occurrence of any cue (``lowered`` is ``text.lower()``), or -1.
    rfind, not a regex: linear whatever the output holds."""
    best, end = -1, -1
    for cue in cues:
        at = lowered.rfind(cue)
        if at > best:
            best, end = at, at + len(cue)
    return end


def last_matches(pattern: "re.Pattern[str]", text: str, k: int, window: int = 1 << 16,
                 overlap: int = 64) -> list["re.Match[str]"]:
    """The last ``k`` non-overlapping matches of a short ``pattern`` (at most
    ``overlap`` characters long), last first, searching windows from the end so
    that a long output with a cue near its end is not scanned whole."""
    found: list[re.Match[str]] = []
    end = len(text)
    while end > 0 and len(found) < k:
        start = max(0, end - window)
        # matches that start in [start, end), whole even if they run past end
        ms = [m for m in pattern.finditer(text, start, min(len(text), end + overlap)) if m.start() < end]
        ms = [m for m in ms if not found or m.end() <= found[-1].start()]
        found.extend(reversed(ms))
        end = start
        window *= 2
    return found[:k]


def first_line(text: str) -> str:
    """The first non-blank line (found with lstrip and find: no split of the whole text)."""
    body = text.lstrip()
    if not body:
        return ""
    start = len(text) - len(body)
    end = text.find("\n", start)
    return text[text.rfind("\n", 0, start) + 1:end if end >= 0 else len(text)]


def last_line(text: str) -> str:
    """The last non-blank line."""
    end = len(text.rstrip())
    if not end:
        return ""
    stop = text.find("\n", end)
    return text[text.rfind("\n", 0, end) + 1:stop if stop >= 0 else len(text)]

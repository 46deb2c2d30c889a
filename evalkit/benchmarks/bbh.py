"""BIG-Bench Hard answer extraction (policy: docs/extraction.md).

The final answer is the span after the last "answer is" ("So the answer is
(B).", "the answer is **True**"). After chain-of-thought (``answer_at: end``)
an output without one has no answer, unless its last line holds nothing but an
answer; only answer-only prompts (``answer_at: start``) fall back to the first
line. The span is normalised per answer format, and the reference goes through
the same normaliser, so scoring is plain equality. Two different answers
joined as a pair ("(A) or (D)", "True or False") are a hedge: no answer.

Formats: ``mc`` option letters "(B)" (an option's text maps to its letter),
``bool`` True/False, ``yesno`` Yes/No, ``validity`` valid/invalid,
``number`` integers, ``dyck`` the bracket sequence, ``words`` a word sequence.
"""
from __future__ import annotations

import itertools
import re
from typing import Any

from evalkit.core.registry import extractors
from evalkit.core.types import Doc
from evalkit.scoring.extraction import (
    ANSWERED,
    HEDGE,
    MAX_MENTIONS,
    NONE,
    Extraction,
    first_line,
    hedged,
    joined,
    last_cue,
    last_line,
)
from evalkit.scoring.think import strip_think

_OPTION_LINE = re.compile(r"^\(([A-Z])\)[ \t]*(.*?)[ \t]*$", re.M)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_VOCAB = {
    "bool": {"true": "True", "false": "False"},
    "yesno": {"yes": "Yes", "no": "No"},
    "validity": {"valid": "valid", "invalid": "invalid"},
}
_SENTENCE_END = re.compile(r"\.\s")
_ANSWER_PREFIX = re.compile(r"^\s*(?:A|Answer|ASSISTANT)\s*:\s*", re.I)
_DYCK_SEPARATORS = frozenset(",'\"`")
_WORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# A last line after reasoning counts only when it is nothing but an answer.
_BARE = {
    "mc": re.compile(r"\(?[A-Z]\)?"), "bool": re.compile(r"(?i:true|false)"), "yesno": re.compile(r"(?i:yes|no)"),
    "validity": re.compile(r"(?i:valid|invalid)"), "number": re.compile(r"-?\d[\d,]*(?:\.\d+)?"),
    "dyck": re.compile(r"[()\[\]{}<> ]+"), "words": re.compile(r"(?!)"),
}
# After a word answer: the end, punctuation, or a parenthesis, never more prose ("Yes, no doubt").
_WORD_TAIL = re.compile(r"\s*(?:$|[.,;:!?)\]])")


MAX_SPAN = 20_000  # an answer statement is read up to here: no answer is longer


def _clean(span: str) -> str:
    return span[:MAX_SPAN].strip().strip("`'\"").strip().rstrip(".").strip()


def final_answer(text: str, answer_at: str = "end") -> tuple[str | None, bool]:
    """(span, whether a cue stated it): the span after the last "answer is" up to
    the end of its sentence; else, for answer-only prompts, the first line, or
    after reasoning the last line (which must then be a bare answer, see _BARE)."""
    text = strip_think(text).replace("**", "").replace("__", "")
    end = last_cue(text, text.lower(), ("answer is",))
    if end >= 0:
        stop = text.find("\n", end, end + MAX_SPAN)
        span = text[end:stop if stop >= 0 else end + MAX_SPAN].lstrip(" \t:")
        sentence_end = _SENTENCE_END.search(span)
        return _clean(span[:sentence_end.start()] if sentence_end else span), True
    line = first_line(text) if answer_at == "start" else last_line(text)
    return (_clean(_ANSWER_PREFIX.sub("", line)) if line else None), False


def options(doc_input: str) -> dict[str, str]:
    """Letter -> option text, from the "Options:" block of a BBH input."""
    _, _, block = doc_input.rpartition("Options:")
    return {m.group(1): m.group(2) for m in _OPTION_LINE.finditer(block)}


def _norm_text(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().strip(".").lower())


def _mc(span: str, opts: dict[str, str]) -> Extraction:
    by_text = {_norm_text(t): k for k, t in opts.items()}
    if len(span) < 1000 and _norm_text(span) in by_text:  # the option's text, whatever it holds
        return Extraction(f"({by_text[_norm_text(span)]})", ANSWERED)
    marks = ((m.start(), m.end(), m.group(1)) for m in re.finditer(r"\(([A-Z])\)", span) if m.group(1) in opts)
    first = next(marks, None)
    if first is None:
        m = re.match(r"^(?:option\s+)?([A-Z])(?:[).:,]|\s*$|\s+(?:or|and)\s|/)", span, re.I)
        if not (m and m.group(1).upper() in opts):
            # free text naming no option: three BBH references are such text
            # (movie_recommendation 163, two ruin_names), so it is compared as text
            text = _norm_text(span)
            if re.fullmatch(r"\(?[a-z]\)?", text):  # "(Z)": a letter that is no option
                return NONE
            return Extraction(text, ANSWERED) if re.search(r"\w", text) else NONE
        marks = ((b.start(1), b.end(1), b.group(1).upper())
                 for b in re.finditer(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])", span, re.I) if b.group(1).upper() in opts)
        first = next(marks)
    (_, e1, v1) = first
    for (s2, e2, v2) in itertools.islice(marks, MAX_MENTIONS):  # lazily, up to the first different option
        if v2 == v1:
            e1 = e2
            continue
        gap = span[e1:s2].strip()
        own = opts.get(v1, "")
        if own and gap.startswith(own):  # "(A) 12/11/1937 or (D) 12/04/1937"
            gap = gap[len(own):]
        if joined(gap):
            return HEDGE
        break
    return Extraction(f"({first[2]})", ANSWERED)


def _word(span: str, vocab: dict[str, str]) -> Extraction:
    if "=" in span:  # "True and False = False": the value after the last "="
        span = span.rsplit("=", 1)[1]
    found = ((m.start(), m.end(), vocab[m.group(0).lower()]) for m in _WORD.finditer(span)
             if m.group(0).lower() in vocab)
    first = next(found, None)
    if first is None:
        return NONE
    if hedged(itertools.chain([first], found), span, lambda rest: _WORD_TAIL.match(rest) is not None):
        return HEDGE
    return Extraction(first[2], ANSWERED)


def _number(span: str) -> Extraction:
    if "=" in span:  # "3 + 4 = 7": the value after the last "="
        span = span.rsplit("=", 1)[1]
    found = ((m.start(), m.end(), m.group(0).replace(",", "")) for m in _NUMBER.finditer(span))
    first = next(found, None)
    if first is None:
        words = ((m.start(), m.end(), _NUMBER_WORDS[m.group(0).lower()])
                 for m in _WORD.finditer(span) if m.group(0).lower() in _NUMBER_WORDS)
        first = next(words, None)
        if first is None:
            return NONE
        return HEDGE if hedged(itertools.chain([first], words), span) else Extraction(first[2], ANSWERED)
    if hedged(itertools.chain([first], found), span):
        return HEDGE
    value = float(first[2])
    return Extraction(str(int(value)) if value.is_integer() else str(value), ANSWERED)


def normalize_span(span: str, fmt: str, doc_input: str = "") -> Extraction:
    if fmt == "mc":
        return _mc(span, options(doc_input))
    if fmt in _VOCAB:
        return _word(span, _VOCAB[fmt])
    if fmt == "number":
        return _number(span)
    if fmt == "dyck":  # the whole sequence, every symbol of it: "( Z )" is not ")"
        seq = " ".join(ch for ch in span if not ch.isspace() and ch not in _DYCK_SEPARATORS)
        return Extraction(seq, ANSWERED) if seq else NONE
    if fmt == "words":
        words = " ".join(re.findall(r"[^\s,]+", span.lower()))
        return Extraction(words, ANSWERED) if words else NONE
    text = _norm_text(span)
    return Extraction(text, ANSWERED) if text else NONE


def normalize(span: str, fmt: str, doc_input: str = "") -> str | None:
    return normalize_span(span, fmt, doc_input).answer


def explain_bbh(text: str, doc: Doc, format: str = "mc", answer_at: str = "end") -> Extraction:
    span, stated = final_answer(text, answer_at)
    if not span:
        return NONE
    if not stated and answer_at != "start" and not _BARE.get(format, _BARE["words"]).fullmatch(span):
        return NONE  # reasoning that never states an answer: "I think (E) is tempting. Hmm."
    return normalize_span(span, format, doc.fields.get("input", ""))


@extractors.register("bbh")
def extract_bbh(text: str, doc: Doc, format: str = "mc", answer_at: str = "end") -> str | None:
    return explain_bbh(text, doc, format, answer_at).answer


def normalize_target(target: Any, doc: Doc, format: str = "mc", answer_at: str = "end") -> str | None:
    """The reference answer in the extractor's normal form."""
    return normalize(str(target).strip(), format, doc.fields.get("input", ""))


extract_bbh.normalize_target = normalize_target
extract_bbh.explain = explain_bbh

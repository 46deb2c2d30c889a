"""BIG-Bench Hard answer extraction.

Models rarely answer exactly like the reference, so the extractor finds the
final answer ("So the answer is (B).", "the answer is **True**", a first line
in the answer-only setting) and normalises it per answer format; the reference
goes through the same normaliser, so scoring is plain equality.

Formats: ``mc`` option letters "(B)" (an option's text maps to its letter),
``bool`` True/False, ``yesno`` Yes/No, ``validity`` valid/invalid,
``number`` integers, ``dyck`` closing brackets, ``words`` a word sequence.
"""
from __future__ import annotations

import re

from evalkit.core.registry import extractors
from evalkit.scoring.basic import strip_think
from evalkit.core.types import Doc

_ANSWER_IS = re.compile(r"answer is\s*:?\s*(.+?)(?:\.\s|\.?\s*$|\n)", re.I | re.S)
_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s*(.*?)\s*$", re.M)
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}


def final_answer(text: str) -> str:
    """The span a model gave as its answer: after the last 'answer is', else the
    first non-empty line (answer-only prompts), without markdown emphasis."""
    text = strip_think(text).replace("**", "").replace("__", "")
    matches = list(_ANSWER_IS.finditer(text))
    if matches:
        span = matches[-1].group(1)
    else:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        span = lines[0] if lines else ""
        span = re.sub(r"^\s*A:\s*", "", span)
    return span.strip().strip("`'\"").strip().rstrip(".").strip()


def options(doc_input: str) -> dict[str, str]:
    """Letter -> option text, from the "Options:" block of a BBH input."""
    _, _, block = doc_input.rpartition("Options:")
    return {m.group(1): m.group(2) for m in _OPTION_LINE.finditer(block)}


def _norm_text(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().strip(".").lower())


def normalize_mc(span: str, opts: dict[str, str]) -> str:
    m = re.match(r"^\(([A-Z])\)", span)
    if m:
        return f"({m.group(1)})"
    by_text = {_norm_text(t): k for k, t in opts.items()}
    if _norm_text(span) in by_text:
        return f"({by_text[_norm_text(span)]})"
    m = re.match(r"^(?:option\s+)?([A-Z])(?:[).:]|\s*$)", span, re.I)
    if m and m.group(1).upper() in opts:
        return f"({m.group(1).upper()})"
    m = re.search(r"\(([A-Z])\)", span)  # "(B) 12/25/1937" buried later in the span
    if m:
        return f"({m.group(1)})"
    return _norm_text(span)


def _first_word_in(span: str, vocab: dict[str, str]) -> str:
    for word in re.findall(r"[A-Za-z]+", span.lower()):
        if word in vocab:
            return vocab[word]
    return _norm_text(span)


def normalize_number(span: str) -> str:
    m = re.search(r"-?\d[\d,]*(?:\.\d+)?", span)
    if m:
        value = float(m.group(0).replace(",", ""))
        return str(int(value)) if value.is_integer() else str(value)
    return _first_word_in(span, _NUMBER_WORDS)


def normalize(span: str, fmt: str, doc_input: str = "") -> str:
    if fmt == "mc":
        return normalize_mc(span, options(doc_input))
    if fmt == "bool":
        return _first_word_in(span, {"true": "True", "false": "False"})
    if fmt == "yesno":
        return _first_word_in(span, {"yes": "Yes", "no": "No"})
    if fmt == "validity":
        return _first_word_in(span, {"valid": "valid", "invalid": "invalid"})
    if fmt == "number":
        return normalize_number(span)
    if fmt == "dyck":
        return " ".join(ch for ch in span if ch in ")]}>")
    if fmt == "words":
        return " ".join(re.findall(r"[^\s,]+", span.lower()))
    return _norm_text(span)


@extractors.register("bbh")
def extract_bbh(text: str, doc: Doc, format: str = "mc") -> str:
    return normalize(final_answer(text), format, doc.fields.get("input", ""))


def normalize_target(target: str, doc: Doc, format: str = "mc") -> str:
    """The reference answer in the extractor's normal form."""
    return normalize(str(target).strip(), format, doc.fields.get("input", ""))


extract_bbh.normalize_target = normalize_target

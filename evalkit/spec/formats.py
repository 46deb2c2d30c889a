"""Prompt formats: a small grammar of meaning-preserving changes to a task's prompt.

FormatSpread (Sclar et al. 2024, "Quantifying Language Models' Sensitivity to
Spurious Features in Prompt Design") shows that a score moves with choices that
do not change what is asked: field names and their casing (``Q:``/``Question:``/
``QUESTION:``), the separator after a field name (``: ``, `` - ``, newline),
spacing between fields and between exemplars, and option labels (``(A)``,
``A.``, ``A)``, ``[A]``, ``a.``). A ``PromptFormat`` picks one value per slot;
format 0 is the task's own prompt, byte for byte.

Only the template's own text is rewritten: the prompt is rendered with every
record and exemplar string replaced by a sentinel, the field labels and the
spacing around them are rewritten in that skeleton, and the strings go back in
(with their option labels restyled). A question that happens to contain "A:"
is never touched. Exemplars and the test question share one format, and the
model's answer is mapped back to canonical labels before the task's extractor
reads it, so an answer ``b.`` counts as ``(B)``.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from typing import Any

from evalkit.core.types import Doc
from evalkit.spec.prompts import FewShot, Prompts
from evalkit.spec.taskspec import FormatSlots

# Label names per casing style, per role: one style applies to every field of a format.
NAMES = {
    "question": ("Q", "Question", "QUESTION", "question"),
    "answer": ("A", "Answer", "ANSWER", "answer"),
    "choices": ("Answer Choices", "Options", "OPTIONS", "options"),
}
SEPARATORS = (": ", " - ", ":\n", " : ")
FIELD_SPACING = ("\n", " ", "\n\n")  # before a non-question field that starts a line
BLOCK_SPACING = ("\n\n", "\n", "\n\n\n")  # before a question field (between exemplars)
LABELS = ("(A)", "A.", "A)", "[A]", "a.")


@dataclass(frozen=True)
class PromptFormat:
    """One point of the grammar; index 0 of every slot is the task's own choice."""

    casing: int = 0  # index into each role's NAMES
    separator: str = ": "
    field_spacing: str = "\n"
    block_spacing: str = "\n\n"
    label: str = "(A)"

    def describe(self) -> str:
        return (f"fields {NAMES['question'][self.casing]!r}/{NAMES['answer'][self.casing]!r}, separator {self.separator!r}, "
                f"field spacing {self.field_spacing!r}, exemplar spacing {self.block_spacing!r}, option labels {self.label}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:12]


def sample_formats(n: int, seed: int) -> list[PromptFormat]:
    """Format 0 (the task's own) and n-1 distinct others, drawn with ``seed``.

    The draw does not depend on n, so format i of seed S is the same format in a
    run with --formats 4 and one with --formats 8 (``--format i`` reruns it)."""
    rng = random.Random(f"formats:{seed}")
    out = [PromptFormat()]
    seen = {out[0]}
    while len(out) < n:
        f = PromptFormat(rng.randrange(len(NAMES["question"])), rng.choice(SEPARATORS), rng.choice(FIELD_SPACING),
                         rng.choice(BLOCK_SPACING), rng.choice(LABELS))
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


# -- option labels -----------------------------------------------------------

def style_label(letter: str, label: str) -> str:
    """Letter "B" in label style "[A]" -> "[B]"; "a." -> "b."."""
    return label.replace("A", letter) if label != "a." else letter.lower() + "."


_BBH_OPTION = re.compile(r"^\(([A-Z])\) ", re.M)
_AGI_OPTION = re.compile(r"^\s*[(（]?([A-G])(?:[)）.．]|\s)")  # "(A)text", or "A text" (some logiqa items)


def restyle_bbh(text: str, label: str) -> str:
    """Option lines after the last "Options:" of a BBH input, relabelled."""
    head, sep, block = text.rpartition("Options:")
    if not sep or label == "(A)":
        return text
    return head + sep + _BBH_OPTION.sub(lambda m: style_label(m.group(1), label) + " ", block)


def restyle_answer(answer: str, label: str) -> str:
    m = re.fullmatch(r"\(([A-Z])\)", answer.strip())
    return style_label(m.group(1), label) if m else answer


def restyle_agieval(options: list[Any], label: str) -> list[Any]:
    if label == "(A)":
        return options
    return [_AGI_OPTION.sub(lambda m: style_label(m.group(1), label) + (" " if m.group(0)[-1].isspace() else ""), o)
            if isinstance(o, str) else o for o in options]


def canonical_output(text: str, label: str) -> str:
    """A model's answer written in label style ``label``, with labels as "(B)"
    so the task's extractor reads it. "A." and "A)" are read as they are."""
    if label == "[A]":
        return re.sub(r"\[([A-Z])\]", r"(\1)", text)
    if label == "a.":
        return re.sub(r"(?<![A-Za-z'.])([a-g])[.)](?![A-Za-z])", lambda m: f"({m.group(1).upper()})", text)
    return text


# -- the skeleton rewrite -----------------------------------------------------

def _label_regex(slots: FormatSlots) -> re.Pattern[str]:
    labels = sorted(slots.fields, key=len, reverse=True)  # "Answer Choices" before "A"
    return re.compile(r"(\n*)(?<![^\W_])(" + "|".join(map(re.escape, labels)) + r"):( ?)")


def rewrite_skeleton(text: str, slots: FormatSlots, fmt: PromptFormat) -> str:
    """Field labels, separators and the spacing before them, in template text only."""
    if not slots.fields or fmt == PromptFormat():
        return text
    pattern = _label_regex(slots)

    def sub(m: re.Match[str]) -> str:
        newlines, label, space = m.group(1), m.group(2), m.group(3)
        role = slots.fields[label]
        if newlines:
            newlines = fmt.block_spacing if role == "question" else (fmt.field_spacing if newlines == "\n" else newlines)
        at_end = m.end() == len(text)
        sep = fmt.separator if space else fmt.separator.rstrip(" ")
        if at_end:  # the answer cue: the model continues right after it
            sep = fmt.separator.rstrip(" ")
        return newlines + NAMES[role][fmt.casing] + sep

    return pattern.sub(sub, text)


def rewrite_stop(stop: str, slots: FormatSlots, fmt: PromptFormat) -> str:
    """A stop sequence naming a field ("Q:", "\\nQ:") follows the field's new label."""
    if not slots.fields:
        return stop
    return _label_regex(slots).sub(
        lambda m: m.group(1) + NAMES[slots.fields[m.group(2)]][fmt.casing] + fmt.separator.rstrip(" "), stop)


class _Sentinels:
    """Swaps strings for unique markers and back."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def hide(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            self.values.append(value)
            return f"\x00{len(self.values) - 1}\x00"
        if isinstance(value, list):
            return [self.hide(v) for v in value]
        if isinstance(value, dict):
            return {k: self.hide(v) for k, v in value.items()}
        return value

    def restore(self, text: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: self.values[int(m.group(1))], text)


class FormattedPrompts:
    """A task's PromptBuilder seen through one PromptFormat: same ``render``
    and ``hash`` interface, plus ``canonical`` for the extractor's side."""

    def __init__(self, base: Prompts, slots: FormatSlots, fmt: PromptFormat):
        self.base, self.slots, self.fmt = base, slots, fmt
        self.spec = base.spec
        self.fewshot = base.fewshot
        self.hash = hashlib.sha256(f"{base.hash}\0{fmt.key()}".encode()).hexdigest()

    def _restyle_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        label, out = self.fmt.label, dict(fields)
        if self.slots.options == "bbh":
            for k in ("input", "question"):
                if isinstance(out.get(k), str):
                    out[k] = restyle_bbh(out[k], label)
            if isinstance(out.get("answer"), str):
                out["answer"] = restyle_answer(out["answer"], label)
        elif self.slots.options == "agieval" and isinstance(out.get("options"), list):
            out["options"] = restyle_agieval(out["options"], label)
        return out

    def render(self, doc: Doc, **extra: Any) -> str:
        if self.fmt == PromptFormat():
            return self.base.render(doc, **extra)
        s = _Sentinels()
        fields = s.hide(self._restyle_fields(doc.fields))
        shots = self.base.fewshot
        if shots is not None:
            shots = FewShot(s.hide(shots.description), tuple(s.hide(self._restyle_fields(e)) for e in shots.examples),
                            shots.source_text)
        hidden = _with_fewshot(self.base, shots).render(Doc(doc.id, fields), **extra)
        return s.restore(rewrite_skeleton(hidden, self.slots, self.fmt))

    def canonical(self, text: str, doc: Doc) -> str:
        return canonical_output(text, self.fmt.label) if self.slots.options != "none" else text

    def stops(self, stops: tuple[str, ...]) -> tuple[str, ...]:
        new = [rewrite_stop(s, self.slots, self.fmt) for s in stops]
        return tuple(dict.fromkeys(list(stops) + new))


def _with_fewshot(base: Prompts, shots: FewShot | None) -> Prompts:
    """A shallow copy of ``base`` rendering with other exemplars."""
    clone = object.__new__(type(base))
    clone.__dict__.update(base.__dict__)
    clone.fewshot = shots
    return clone

"""Task-independent extractors and scorers."""
from __future__ import annotations

import re
from typing import Any

from evalkit.core.registry import extractors, scorers
from evalkit.core.types import Doc, Score

_THINK = re.compile(r"<think>.*?</think>", re.S)


def strip_think(text: str) -> str:
    """Drop reasoning blocks: a closed <think>…</think>, or everything up to a
    lone </think> (chat templates often put the opening tag in the prompt)."""
    text = _THINK.sub("", text)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text.strip()


@extractors.register("identity")
def extract_identity(text: str, doc: Doc) -> str:
    return strip_think(text)


@scorers.register("exact_match")
def exact_match(extracted: Any, target: Any, doc: Doc) -> Score:
    """1.0 when the extracted answer equals the reference (both already normalised by the extractor)."""
    ok = extracted is not None and extracted == target
    return Score(1.0 if ok else 0.0, extracted, "" if ok else f"expected {target!r}")

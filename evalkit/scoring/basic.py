"""Task-independent extractors and scorers."""
from __future__ import annotations

from typing import Any

from evalkit.core.registry import extractors, scorers
from evalkit.core.types import Doc, Score
from evalkit.scoring.think import strip_think


@extractors.register("identity")
def extract_identity(text: str, doc: Doc) -> str:
    return strip_think(text).strip()


@scorers.register("exact_match")
def exact_match(extracted: Any, target: Any, doc: Doc) -> Score:
    """1.0 when the extracted answer equals the reference (both already normalised by the extractor)."""
    ok = extracted is not None and extracted == target
    return Score(1.0 if ok else 0.0, extracted, "" if ok else f"expected {target!r}")

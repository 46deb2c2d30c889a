"""MATH (Hendrycks et al. 2021) in the registries: the extractor and scorer
around ``math_grader``, and a loader that gives ``level`` one form.

``math/test.jsonl`` says ``"level": "Level 3"`` and MATH-500 says ``3``; the
loader turns both into the int 3, so ``breakdown: [level]`` reports the same
keys (``level=3``) for both files.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from evalkit.benchmarks.math.grader import explain_math_answer, is_equiv
from evalkit.core.registry import extractors, loaders, scorers
from evalkit.core.types import Doc, Score
from evalkit.scoring.extraction import Extraction
from evalkit.spec.loaders import load_jsonl
from evalkit.spec.taskspec import DatasetSpec

_LEVEL = re.compile(r"\s*(?:Level\s*)?(\d+)\s*", re.I)


def normalize_level(level: Any) -> Any:
    """"Level 3", "3" and 3 -> 3; anything else (e.g. "Level ?") unchanged."""
    m = _LEVEL.fullmatch(level) if isinstance(level, str) else None
    return int(m.group(1)) if m else level


@loaders.register("math_jsonl")
def load_math_jsonl(path: Path, spec: DatasetSpec | None = None) -> list[dict[str, Any]]:
    """JSON lines with ``level`` as an int."""
    records = load_jsonl(path, spec)
    for r in records:
        if "level" in r:
            r["level"] = normalize_level(r["level"])
    return records


@extractors.register("math")
def extract_math(text: str, doc: Doc) -> str | None:
    """The last \\boxed{} answer, else the Minerva "Final Answer: The final answer is X"."""
    return explain_math_answer(text)[0]


def explain_math(text: str, doc: Doc) -> Extraction:
    return Extraction(*explain_math_answer(text))


extract_math.explain = explain_math


@scorers.register("math_equiv")
def math_equiv(extracted: str | None, target: Any, doc: Doc, timeout_s: float = 5.0) -> Score:
    """1.0 when the extracted answer is mathematically equivalent to the reference."""
    if extracted is None:
        return Score(0.0, None, "no answer found")
    ok = is_equiv(extracted, str(target), timeout_s=timeout_s)
    return Score(1.0 if ok else 0.0, extracted, "" if ok else f"not equivalent to {target!r}")

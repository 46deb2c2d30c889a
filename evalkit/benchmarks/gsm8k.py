"""GSM8K (Cobbe et al. 2021) in the registries: the gold answer after ``####``,
a numeric extractor for chain-of-thought outputs, a numeric scorer, and the
train-split exemplars for the 8-shot chain-of-thought prompt.

Numbers compare as floats within 1e-4 (absolute), as the CRITIC and PAL
references compare program answers (``abs(pred - gt) < 1e-3`` or tighter), so
``18``, ``18.0`` and ``$18`` agree, and so do ``1,800`` and ``1800``.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from evalkit.core.errors import DataError
from evalkit.core.registry import extractors, fewshot_sources, scorers
from evalkit.core.types import Doc, Score
from evalkit.spec.loaders import load_jsonl, local_file
from evalkit.spec.taskspec import FewShotSpec

TOLERANCE = 1e-4
_NUM = r"-?\$?\s?\d[\d,]*(?:\.\d+)?|-?\.\d+"
_ANSWER_IS = re.compile(r"answer is[:\s]*\$?\s*(" + _NUM + r")", re.I)
_HASHES = re.compile(r"####\s*\$?\s*(" + _NUM + r")")
_ANY_NUM = re.compile(_NUM)
_CALC = re.compile(r"<<[^<>]*>>")


def to_number(x: Any) -> float | None:
    """A float from an int/float/numeric string ("1,234", "$18", "18."), else None."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x) if math.isfinite(float(x)) else None
    if not isinstance(x, str):
        return None
    m = _ANY_NUM.search(x)
    if not m:
        return None
    s = m.group(0).replace(",", "").replace("$", "").replace(" ", "")
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def gold_answer(answer_field: str) -> str:
    """The final number of a GSM8K worked solution (the text after ``####``)."""
    if "####" not in answer_field:
        raise DataError("a GSM8K answer must end with '#### <number>'")
    return answer_field.rsplit("####", 1)[1].strip().replace(",", "")


def extract_cot_number(text: str) -> str | None:
    """The chain-of-thought answer: the last "The answer is N", else the last
    "#### N", else the last number in the text (lm-eval's flexible fallback)."""
    found = _ANSWER_IS.findall(text) or _HASHES.findall(text) or _ANY_NUM.findall(text)
    return re.sub(r"[\s$,]", "", found[-1]) if found else None


@extractors.register("gsm8k")
def extract_gsm8k(text: str, doc: Doc) -> str | None:
    return extract_cot_number(text)


def _normalize_target(raw: Any, doc: Doc) -> str:
    return gold_answer(str(raw))


extract_gsm8k.normalize_target = _normalize_target


@scorers.register("numeric_equiv")
def numeric_equiv(extracted: Any, target: Any, doc: Doc, tolerance: float = TOLERANCE) -> Score:
    """1.0 when both are numbers within ``tolerance``; a program answer may be a
    float (``10.0``) or a string (``"10"``). PAL's gsm_eval.py uses 1e-3."""
    a, b = to_number(extracted), to_number(target)
    if a is None:
        return Score(0.0, extracted, "no number found")
    if b is None:
        return Score(0.0, extracted, f"reference {target!r} is not a number")
    ok = abs(a - b) < tolerance
    return Score(1.0 if ok else 0.0, extracted, "" if ok else f"{a:g} != {b:g}")


def cot_exemplar(record: dict[str, Any]) -> dict[str, str]:
    """A train record as a chain-of-thought exemplar: the worked solution on one
    line without the calculator annotations, ending "The answer is N."."""
    body, _, final = record["answer"].rpartition("####")
    steps = [s.strip() for s in _CALC.sub("", body).splitlines() if s.strip()]
    reasoning = " ".join(s if s.endswith((".", "!", "?")) else s + "." for s in steps)
    return {"question": record["question"].strip(), "reasoning": reasoning,
            "answer": final.strip().replace(",", "")}


@fewshot_sources.register("gsm8k_train")
def gsm8k_train(spec: FewShotSpec, root: Path | None) -> Any:
    """The first ``k`` problems of ``gsm8k/train.jsonl`` as CoT exemplars (never test)."""
    from evalkit.spec.prompts import FewShot

    if root is None or not spec.path:
        raise DataError(f"few-shot file {spec.path} needs a local mirror: set --data-dir or EVALKIT_DATA_DIR")
    path = local_file(root, spec.path)
    shots = tuple(cot_exemplar(r) for r in load_jsonl(path)[: spec.k or 8])
    return FewShot("", shots, json.dumps(shots, sort_keys=True))

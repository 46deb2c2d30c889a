"""AGIEval (Zhong et al. 2023): answer extraction and the paper's few-shot exemplars.

Multiple-choice answers are option letters, compared as sets: the extractor
and the reference both come out as the sorted distinct letters ("B", "AD"), so
``exact_match`` is an exact set match (jec-qa and gaokao-physics items may have
several correct options; so do a few gaokao-mathqa items).
Cloze subsets (``math``, ``gaokao-mathcloze``) are graded with the MATH grader.
"""
from __future__ import annotations

import ast
import csv
import io
import re
from pathlib import Path
from typing import Any

from evalkit.spec.loaders import local_file
from evalkit.core.errors import DataError, ScoringError
from evalkit.spec.prompts import FewShot
from evalkit.core.registry import extractors, fewshot_sources
from evalkit.benchmarks.math.grader import extract_math_answer, last_boxed, strip_think
from evalkit.spec.taskspec import FewShotSpec
from evalkit.core.types import Doc

LETTERS = "ABCDEFG"

# Phrases after which a model states its choice ("the answer is", "答案是", "应选")...
_CUE = re.compile(
    r"(?:answer|choice|option)\s*(?:is|:)(?:\s*therefore)?|答案\s*(?:应该?)?(?:是|为|：|:)|(?:故|所以|因此|应该?)选择?|【",
    re.I)
# An option letter: "(B)", "（B）", or bare capitals not touching other ASCII letters ("B", "ACD", "答案是B").
_TOKEN = re.compile(r"[(（]([A-Z])[)）]|(?<![A-Za-z])([A-Z]{1,7})(?![A-Za-z])")
# What may stand between the letters of one multi-letter answer: "A, C and D", "A、C", "(A)(C)".
_JOINER = re.compile(r"\s*(?:[,，、;；/&+]|and|or|和|及|与|或)?\s*", re.I)


def _valid_letters(doc: Doc) -> str:
    opts = doc.fields.get("options") or []
    return LETTERS[:len(opts)] if opts else LETTERS[:5]


def _after_cue(line: str) -> str:
    cues = list(_CUE.finditer(line))
    return line[cues[-1].end():] if cues else line


def answer_spans(text: str, answer_at: str = "start") -> list[str]:
    """Where a model's output may state its answer, most likely first: a
    \\boxed{} answer; else what follows each answer cue (the last first) and the
    first line (``answer_at: start``, answer-only prompts end where the answer
    begins) or the last line (``answer_at: end``, after chain-of-thought)."""
    text = strip_think(text).replace("**", "").replace("__", "").replace("`", "")
    boxed = last_boxed(text)
    if boxed is not None:
        return [boxed]
    after_cues = [text[m.end():].lstrip().split("\n", 1)[0] for m in reversed(list(_CUE.finditer(text)))]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    if answer_at == "end":
        return after_cues + [_after_cue(lines[-1])]
    return [_after_cue(lines[0])] + after_cues


def letters_in(span: str, valid: str) -> str | None:
    """The first answer in ``span``: one letter, or several joined as "A, C and D",
    "ACD", "(A)(C)"; as sorted distinct letters, or None when there is none."""
    found: list[str] = []
    style, end = None, 0
    for m in _TOKEN.finditer(span):
        letters, paren = m.group(1) or m.group(2), m.group(1) is not None
        ok = all(c in valid for c in letters)
        if not found:
            if ok:
                found, style, end = list(letters), paren, m.end()
            continue
        if not ok or paren != style or not _JOINER.fullmatch(span[end:m.start()]):
            break
        found.extend(letters)
        end = m.end()
    return "".join(sorted(set(found))) or None


@extractors.register("agieval_choice")
def extract_choice(text: str, doc: Doc, answer_at: str = "start") -> str | None:
    """Option letters a model chose ("B" or "AD"), None when it named none:
    the first of ``answer_spans`` that names a valid option letter."""
    valid = _valid_letters(doc)
    return next((found for span in answer_spans(text, answer_at) if (found := letters_in(span, valid))), None)


def gold_letters(label: Any) -> str:
    """A record's ``label`` ("B", "AD", "A B D", ["A", "C"]) as sorted distinct letters."""
    items = label if isinstance(label, list) else [label]
    letters = {c for item in items if isinstance(item, str) for c in item if c in LETTERS}
    if not letters:
        raise ScoringError(f"the record has no gold answer (label {label!r}); it counts as wrong")
    return "".join(sorted(letters))


def _normalize_choice_target(target: Any, doc: Doc, answer_at: str = "start") -> str:
    return gold_letters(target)


extract_choice.normalize_target = _normalize_choice_target

_CLOZE_CUE = re.compile(r"answer is therefore|答案\s*(?:是|为|：|:)", re.I)


@extractors.register("agieval_cloze")
def extract_cloze(text: str, doc: Doc, answer_at: str = "start") -> str | None:
    """A cloze answer: \\boxed{}, else after "The answer is therefore" / "答案是"
    (the few-shot exemplars' wording), else the MATH extractor's cues, else the
    first line (zero-shot prompts end with "The answer is" / "答案：") or, after
    chain-of-thought (``answer_at: end``), the last line."""
    text = strip_think(text)
    if last_boxed(text) is None:
        cues = list(_CLOZE_CUE.finditer(text))
        if cues:
            return _clean(text[cues[-1].end():].split("\n", 1)[0])
    found = extract_math_answer(text)
    if found is not None:
        return found
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    return _clean(lines[-1] if answer_at == "end" else lines[0])


def _clean(span: str) -> str | None:
    span = span.strip().lstrip(":：").strip().rstrip("。.").strip()
    if span.count("$") == 2 and span.startswith("$") and span.endswith("$"):
        span = span[1:-1].strip()  # one $...$ around the whole answer; several blanks keep theirs
    return span or None


# ------------------------------------------------------------------ few-shot

@fewshot_sources.register("agieval_csv")
def agieval_fewshot(spec: FewShotSpec, root: Path | None) -> FewShot:
    """The paper's exemplars from ``few_shot_prompts.csv``: one column per dataset,
    rows "sample i" (a Python-literal record) and "explanation i" (its reasoning).
    ``options.column`` names the column (sat-en-without-passage uses sat-en's,
    with ``options.skip_passage``). As upstream, blank lines inside an
    explanation are folded, so exemplars stay one paragraph each."""
    if root is None or not spec.path:
        raise DataError(f"few-shot file {spec.path} needs a local mirror: set --data-dir or EVALKIT_DATA_DIR")
    path = local_file(root, spec.path)
    text = path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    column = spec.options.get("column")
    if not rows or column not in rows[0]:
        raise DataError(f"{spec.path}: no column {column!r} (columns: {', '.join(c for c in rows[0] if c) if rows else 'none'})")
    col = rows[0].index(column)
    examples = []
    for i in range(1, len(rows) - 1, 2):
        sample, explanation = rows[i][col], rows[i + 1][col]
        if not sample:
            continue
        try:
            rec = ast.literal_eval(sample)
        except (ValueError, SyntaxError):
            raise DataError(f"{spec.path}: {rows[i][0]} of {column} is not a record literal") from None
        label = rec.get("label")
        examples.append({
            "passage": "" if spec.options.get("skip_passage") else (rec.get("passage") or ""),
            "question": rec["question"],
            "options": rec.get("options") or [],
            "label": "".join(label) if isinstance(label, list) else (label or ""),
            "answer": rec.get("answer") or "",
            "explanation": explanation.replace("\n\n", "\n"),
        })
    return FewShot("", tuple(examples), f"{column}\0{text}")

"""AGIEval (Zhong et al. 2023): answer extraction and the paper's few-shot exemplars.

Multiple-choice answers are option letters, compared as sets: the extractor
and the reference both come out as the sorted distinct letters ("B", "AD"), so
``exact_match`` is an exact set match (jec-qa and gaokao-physics items may have
several correct options; so do a few gaokao-mathqa items: ``answers: set``).
Elsewhere (``answers: one``) a set is a hedge; letters offered as alternatives
("(B)或者(D)") are a hedge everywhere. Echoes of the prompt and of the options
list are not answers. Cloze subsets (``math``, ``gaokao-mathcloze``) are graded
with the MATH grader. The rules: docs/extraction.md.
"""
from __future__ import annotations

import ast
import bisect
import csv
import io
import re
from pathlib import Path
from typing import Any

from evalkit.benchmarks.math.grader import explain_math_answer, final_value, is_hedge, last_boxed
from evalkit.core.errors import DataError, ScoringError
from evalkit.core.registry import extractors, fewshot_sources
from evalkit.core.types import Doc
from evalkit.scoring.extraction import (
    ANSWERED,
    HEDGE,
    HEDGED,
    NO_ANSWER,
    NONE,
    Extraction,
    alternatives,
    first_line,
    joined,
    last_line,
    last_matches,
)
from evalkit.scoring.think import strip_think
from evalkit.spec.loaders import local_file
from evalkit.spec.prompts import FewShot
from evalkit.spec.taskspec import FewShotSpec

LETTERS = "ABCDEFG"
_SPACE, _NON_SPACE = re.compile(r"\s*"), re.compile(r"\S*")

# Phrases after which a model states its choice ("the answer is", "答案是", "应选",
# "最终结果为", "正确选项:").
_CUE = re.compile(
    r"(?:answer|choice|option)\s*(?:is|:)(?:\s*therefore)?|答案\s*(?:应该?)?(?:是|为|：|:)|(?:故|所以|因此|应该?)选择?"
    r"|(?:最终)?结果\s*(?:是|为|：|:)|正确(?:的)?(?:选项|答案|项)?\s*(?:应该?)?(?:是|为|：|:)|【",
    re.I)
_MAX_CUES = 20  # only the last cues are read: linear whatever the output holds
MAX_SPAN = 20_000  # an answer statement is read up to here: no answer is longer
# An option letter: "(B)", "（B）", or bare capitals not touching other ASCII letters ("B", "ACD", "答案是B").
_TOKEN = re.compile(r"[(（]([A-Z])[)）]|(?<![A-Za-z])([A-Z]{1,7})(?![A-Za-z])")
_MARK = re.compile(r"[(（]([A-G])[)）]")
# The prompt's own words, which a model may echo: "从A到D", "Among A through E".
_PROMPT_ECHO = re.compile(r"从\s*A\s*到\s*[A-G]|(?:Among\s+)?A\s+through\s+[A-G]", re.I)
# Where an answer-only output may begin: role or answer prefixes before the letter.
_LEAD = re.compile(r"\s*(?:(?:(?:ASSISTANT|Answer|A|答案|答|选项|option)\s*[:：]|选项|(?:我们)?(?:应该?选择?|选择?)|option\s|either\s)\s*)*", re.I)
# What may follow a letter that is the whole answer: the end, space, punctuation, a closing bracket.
_LETTER_END = re.compile(r"$|[\s.,;:!?。，、；：)）(（\]】]|和|及|与|或|还是")


def _valid_letters(doc: Doc) -> str:
    opts = doc.fields.get("options") or []
    return LETTERS[:len(opts)] if opts else LETTERS[:5]


def _drop_enumerations(text: str, doc: Doc) -> str:
    """Remove options lists the model repeats ("(A)… (B)… (C)…"): runs of two or
    more option markers in order from (A), each followed by text, not by a joiner.
    The last one's text goes with it when it is the option's own text."""
    marks = list(_MARK.finditer(text))
    if len(marks) < 2:
        return text
    opts = _option_texts(doc)
    newlines = [m.start() for m in re.finditer("\n", text)]
    cue_ends = [m.end() for m in _CUE.finditer(text)]
    cuts, i = [], 0
    while i < len(marks):
        j = i
        while (j + 1 < len(marks) and ord(marks[j + 1].group(1)) == ord(marks[j].group(1)) + 1
               and not joined(text[marks[j].end():marks[j + 1].start()])):
            j += 1
        if marks[i].group(1) == "A" and j > i and not _cue_before(marks[i].start(), newlines, cue_ends):
            end = marks[j].end()
            own = opts.get(marks[j].group(1), "")
            rest = text[end:end + len(own) + 8]
            if own and rest.lstrip().startswith(own):
                end += len(rest) - len(rest.lstrip()) + len(own)
            else:  # an abbreviated echo "(D)…": up to the next space
                end = _NON_SPACE.match(text, end).end()  # type: ignore[union-attr]  # \S* always matches
            cuts.append((marks[i].start(), end))
        i = j + 1
    if not cuts:
        return text
    out, pos = [], 0
    for a, b in cuts:
        out.append(text[pos:a])
        out.append(" ")
        pos = b
    return "".join(out) + text[pos:]


def _cue_before(pos: int, newlines: list[int], cue_ends: list[int]) -> bool:
    """Whether an answer cue ends between the start of pos's line and pos (bisect: no rescans)."""
    line_start = newlines[k - 1] + 1 if (k := bisect.bisect_left(newlines, pos)) else 0
    c = bisect.bisect_right(cue_ends, pos)
    return c > 0 and cue_ends[c - 1] >= line_start


def _cue_spans(text: str) -> list[str]:
    """The line after each answer cue, the last cue first (an answer may start on
    the next line: "答案是\nB")."""
    spans = []
    for m in last_matches(_CUE, text, _MAX_CUES):
        start = _SPACE.match(text, m.end()).end()  # type: ignore[union-attr]  # \s* always matches
        end = text.find("\n", start, start + MAX_SPAN)
        spans.append(text[start:end if end >= 0 else start + MAX_SPAN])
    return spans


def answer_spans(text: str, doc: Doc | None = None, answer_at: str = "start") -> list[tuple[str, str]]:
    """Where a model's output may state its answer, most likely first, as (kind,
    span): a \\boxed{} answer; else what follows each answer cue (the last
    first); else, for answer-only prompts (``answer_at: start``), the first line
    if it begins with the answer, or after chain-of-thought (``end``) a last line
    that is nothing but an answer. Echoes of the prompt and of the options list
    are removed first."""
    text = strip_think(text).replace("**", "").replace("__", "").replace("`", "")
    boxed = last_boxed(text)
    if boxed is not None:
        return [("cue", boxed)]
    text = _PROMPT_ECHO.sub(" ", text)
    spans = [("cue", s) for s in _cue_spans(text)]  # what follows a cue is meant as the answer
    # the fallback line, from the first (or last) stretch of the output with echoed option lists removed
    edge = text[:2 * MAX_SPAN] if answer_at == "start" else text[-2 * MAX_SPAN:]
    if doc is not None:
        edge = _drop_enumerations(edge, doc)
    line = (first_line(edge) if answer_at == "start" else last_line(edge))[:MAX_SPAN]
    if line.strip():
        spans.append(("start", line) if answer_at == "start" else ("end", line))
    return spans


def letters_in(span: str, valid: str, answers: str = "set", opts: dict[str, str] | None = None) -> Extraction:
    """The first answer in ``span``: one letter, or several joined as "A, C and D",
    "ACD", "(A)(C)", as sorted distinct letters. Letters offered as alternatives
    ("B or C", "(B)或者(D)") are a hedge; so is a set where ``answers`` is "one"."""
    found: list[str] = []
    end, alternative = 0, False
    for m in _TOKEN.finditer(span):
        letters = m.group(1) or m.group(2)
        ok = all(c in valid for c in letters)
        if not found:
            if ok:
                found, end = list(letters), m.end()
            continue
        gap = span[end:m.start()]
        own = (opts or {}).get(found[-1], "")
        if own and gap.strip().startswith(own):  # "(A)市民公园…… (C)文化区……": an option named with its text
            gap = gap.strip()[len(own):]
        if not ok or not _JOINER.fullmatch(gap):
            break
        alternative = alternative or alternatives(gap)
        found.extend(letters)
        end = m.end()
        if len(found) > 2 * len(LETTERS):
            break  # a run this long only repeats letters: the answer is settled
    chosen = "".join(sorted(set(found)))
    if not chosen:
        return NONE
    if len(chosen) > 1 and (alternative or answers == "one"):
        return HEDGE
    return Extraction(chosen, ANSWERED)


# What may stand between the letters of one multi-letter answer: "A, C and D", "A、C", "(A)(C)", "(B)或者(D)".
_JOINER = re.compile(r"\s*(?:[,，、;；/&]|and|or|和|及|与|或者|或是|或|还是)?\s*(?:都|均)?\s*", re.I)


def _bare(span: str, valid: str) -> bool:
    """A line that is only an answer: "C", "(C).", "答案：C", "AD"."""
    return re.fullmatch(r"[\s(（]*[A-G]{1,7}[)）]?[\s.。]*", _LEAD.sub("", span, count=1)) is not None


def _option_texts(doc: Doc) -> dict[str, str]:
    return {o[1]: o[3:].strip() for o in (doc.fields.get("options") or []) if len(o) > 3 and o[0] in "(（"}


def explain_choice(text: str, doc: Doc, answer_at: str = "start", answers: str = "set") -> Extraction:
    valid = _valid_letters(doc)
    opts = _option_texts(doc)
    hedge = None
    for kind, span in answer_spans(text, doc, answer_at):
        if kind == "start":
            lead = _LEAD.match(span).end()  # type: ignore[union-attr]  # _LEAD matches the empty string
            m = _TOKEN.match(span, lead)
            if not m or not (m.group(1) or _LETTER_END.match(span, m.end())):  # "(A)市民……" or "A。"
                continue  # prose first ("A项错误，B项正确……"): no answer-only answer
            span = span[lead:]
        elif kind == "end" and not _bare(span, valid):
            continue
        got = letters_in(span, valid, answers, opts)
        if got.status == ANSWERED:
            return got
        hedge = hedge or (got if got.status == HEDGED else None)
        if hedge and kind == "cue":
            return hedge  # the last statement hedges: an earlier one does not rescue it
    return hedge or NONE


@extractors.register("agieval_choice")
def extract_choice(text: str, doc: Doc, answer_at: str = "start", answers: str = "set") -> str | None:
    """Option letters a model chose ("B" or "AD"), None when it named none or hedged."""
    return explain_choice(text, doc, answer_at, answers).answer


extract_choice.explain = explain_choice


def gold_letters(label: Any) -> str:
    """A record's ``label`` ("B", "AD", "A B D", ["A", "C"]) as sorted distinct letters."""
    items = label if isinstance(label, list) else [label]
    letters = {c for item in items if isinstance(item, str) for c in item if c in LETTERS}
    if not letters:
        raise ScoringError(f"the record has no gold answer (label {label!r}); it counts as wrong")
    return "".join(sorted(letters))


def _normalize_choice_target(target: Any, doc: Doc, answer_at: str = "start", answers: str = "set") -> str:
    return gold_letters(target)


extract_choice.normalize_target = _normalize_choice_target

_CLOZE_CUE = re.compile(r"answer is therefore|答案\s*(?:应该?)?(?:是|为|：|:)|最终结果\s*(?:是|为|：|:)", re.I)
# A last line after reasoning that is only a value: short, and no prose words.
_CLOZE_BARE = re.compile(r"[^\u4e00-\u9fff]{1,40}")
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{4,}")


def explain_cloze(text: str, doc: Doc, answer_at: str = "start", answers: str = "one") -> Extraction:
    """A cloze answer: \\boxed{}, else after "The answer is therefore" / "答案是"
    (the few-shot exemplars' wording), else the MATH extractor's cues, else the
    first line (zero-shot prompts end with "The answer is" / "答案：") or, after
    chain-of-thought (``answer_at: end``), a last line that is only a value.
    "32 - 25 = 7" answers 7; "5 或 6" is a hedge."""
    text = strip_think(text)
    span = None
    if last_boxed(text) is None:
        cues = list(_CLOZE_CUE.finditer(text))
        if cues:
            end = text.find("\n", cues[-1].end())
            span = _clean(text[cues[-1].end():end if end >= 0 else len(text)])
    if span is None:
        ans, status = explain_math_answer(text)
        if status != NO_ANSWER:
            return Extraction(ans, status)
        line = first_line(text) if answer_at == "start" else last_line(text)
        span = _clean(line) if line else None
        if span and answer_at != "start" and not (_CLOZE_BARE.fullmatch(span) and not _PROSE.search(span)):
            return NONE  # reasoning that never states its result
    if not span:
        return NONE
    if is_hedge(span):
        return HEDGE
    return Extraction(final_value(span), ANSWERED)


@extractors.register("agieval_cloze")
def extract_cloze(text: str, doc: Doc, answer_at: str = "start", answers: str = "one") -> str | None:
    return explain_cloze(text, doc, answer_at).answer


extract_cloze.explain = explain_cloze


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

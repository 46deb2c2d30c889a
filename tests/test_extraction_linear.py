"""Every extractor (and its scorer) is linear in the output length: long adversarial
outputs, built to make backtracking regexes or rescans blow up, score within a
generous time limit. (Quadratic work on these inputs takes hours, so the limit
separates the two without being a speed claim; bench/extraction_linear.py times
20 MB outputs.)"""
from __future__ import annotations

import signal
from functools import lru_cache
from pathlib import Path

import pytest

from evalkit.evaluators.generate import DocScorer
from evalkit.spec.loaders import load_docs
from evalkit.spec.taskspec import load_catalog

SIZE = 300_000  # characters per adversarial output
LIMIT_S = 20

TASKS = ["bbh_date_understanding", "bbh_boolean_expressions", "bbh_navigate", "bbh_formal_fallacies",
         "bbh_object_counting", "bbh_dyck_languages", "bbh_word_sorting", "bbh_direct_date_understanding",
         "agieval_logiqa_zh", "agieval_cot_lsat_ar", "agieval_jec_qa_kd", "agieval_fewshot_cot_logiqa_zh",
         "agieval_math", "agieval_cot_gaokao_mathcloze", "math"]


def adversarial(n: int) -> dict[str, str]:
    """Outputs of about n characters that stress each kind of search."""
    def rep(s: str) -> str:
        return s * (n // len(s))
    return {
        "answer-is-then-spaces": "So the answer is Yes" + " " * n + "x",
        "many-cues": rep("the answer is "),
        "cue-no-end": "the answer is " + rep("(A"),
        "open-brackets": rep("(A"),
        "open-boxes": rep("\\boxed{"),
        "dollars": rep("$"),
        "open-parens-math": "The final answer is " + rep("\\("),
        "think-open": rep("<think>"),
        "think-close": rep("</think>"),
        "zh-cues": rep("答案是"),
        "zh-joined-letters": "答案是" + rep("A、"),
        "or-chain": "So the answer is " + rep("(A) or "),
        "option-enumeration": rep("(A)x (B)y (C)z (D)w "),
        "numbers": "So the answer is " + rep("1,"),
        "equals": "\\boxed{" + rep("1=") + "1}",
        "newlines": rep("\n"),
        "letters": rep("A"),
        "words": "So the answer is " + rep("True and "),
        "nested-braces": "\\boxed{" + rep("{") + "}",
        "spaces-then-line": " " * n + "\n(B)",
    }


@lru_cache(maxsize=None)
def _task(name: str, data_dir: str):
    spec = load_catalog().tasks[name]
    doc = load_docs(spec.dataset, Path(data_dir), 1)[0]
    return DocScorer(spec, "first"), doc


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


@pytest.mark.parametrize("task", TASKS)
def test_long_adversarial_outputs_score_in_linear_time(task, data_dir):
    scorer, doc = _task(task, str(data_dir))
    target = scorer.target(doc)
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for name, text in adversarial(SIZE).items():
            signal.alarm(LIMIT_S)
            try:
                score, status = scorer.score_explained(text, target, doc)
            except _Timeout:
                pytest.fail(f"{task}: {name} ({len(text):,} chars) took over {LIMIT_S}s")
            finally:
                signal.alarm(0)
            assert status in ("answered", "no_answer", "hedged")
    finally:
        signal.signal(signal.SIGALRM, old)


def test_last_matches_equals_a_full_scan():
    """The windowed search from the end finds exactly the last k matches of a full scan."""
    import random
    import re

    from evalkit.scoring.extraction import last_matches

    pat = re.compile(r"ab|答案是|answer is")
    for trial in range(300):
        rng = random.Random(trial)
        text = "".join(rng.choice(["ab", "x", "答案是", "answer is", "a", "b "]) for _ in range(rng.randint(0, 3000)))
        want = list(pat.finditer(text))[::-1][:20]
        got = last_matches(pat, text, 20, window=rng.randint(1, 500))
        assert [m.span() for m in got] == [m.span() for m in want], trial


def test_first_and_last_line_equal_a_split():
    """first_line/last_line avoid splitting the whole output, and agree with doing so."""
    import random

    from evalkit.scoring.extraction import first_line, last_line

    def by_split(text, lines):
        return next((ln for ln in lines(text.split("\n")) if ln.strip()), "")

    for trial in range(3000):
        rng = random.Random(trial)
        text = "".join(rng.choice(["\n", " ", "a", "\t", "b \n", " \u3000"]) for _ in range(rng.randint(0, 30)))
        assert first_line(text) == by_split(text, iter), repr(text)
        assert last_line(text) == by_split(text, reversed), repr(text)

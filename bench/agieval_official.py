"""The official AGIEval scorer's rules, re-expressed to run beside evalkit.

Source read (not copied): github.com/ruixiangcui/AGIEval, ``src/post_process.py``
(commit 9a11e1e55cb4a0c8b5aed6b46fd46db3f6a41262), ``src/evaluation.py`` and
``src/dataset_loader.py`` (commit 54887c36044904e34ff255a40323edd0d94129f0).
Each function below states the upstream rule it follows. Cloze answers are
compared with Hendrycks' MATH ``is_equiv``, which upstream vendors as
``src/math_equivalence.py``; the same function ships in lm-eval
(``lm_eval.tasks.hendrycks_math.utils.is_equiv``) and is imported from there.

Settings are upstream's: zero-shot, zero-shot-CoT, few-shot, few-shot-CoT.
Upstream's zero-shot-CoT reads the answer from a second model call ("Therefore,
among A through E, the answer is"); evalkit's agieval_cot is one call, so here
the zero-shot rule is applied to that one output (said in docs/extraction.md).
"""
from __future__ import annotations

import re
from typing import Any

ENGLISH_QA = {"lsat-ar", "lsat-lr", "lsat-rc", "logiqa-en", "sat-math", "sat-en", "aqua-rat",
              "sat-en-without-passage", "gaokao-english"}
CHINESE_QA = {"logiqa-zh", "jec-qa-kd", "jec-qa-ca", "gaokao-chinese", "gaokao-geography", "gaokao-history",
              "gaokao-biology", "gaokao-chemistry", "gaokao-physics", "gaokao-mathqa"}
CLOZE = {"math", "gaokao-mathcloze"}
MULTI = {"jec-qa-kd", "jec-qa-ca", "gaokao-physics"}


def last_nonblank_line(s: str) -> str:
    """Upstream extract_last_line: the last line that is not blank, else the string."""
    for line in reversed(s.split("\n")):
        if line.strip():
            return line
    return s


def first_capital(s: str) -> str:
    """Upstream find_first_capital_letter: the first of A-F anywhere, else ''."""
    return next((c for c in s if c in "ABCDEF"), "")


def strip_fewshot_prefix(s: str) -> str:
    """Upstream remove_few_shot_prefix: text after "The answer is therefore" then
    after "答案是" (at the start, else after the last occurrence)."""
    for prefix in ("The answer is therefore", "答案是"):
        if s.startswith(prefix):
            s = s[len(prefix):].strip()
        elif prefix in s:
            s = s[s.rfind(prefix) + len(prefix):].strip()
    return s


def _last_boxed(s: str) -> str | None:
    """The last \\boxed (else \\fbox) with its balanced braces, as upstream."""
    at = s.rfind("\\boxed")
    if at < 0:
        at = s.rfind("\\fbox")
        if at < 0:
            return None
    depth = 0
    for i in range(at, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return s[at:i + 1]
    return None


def _unbox(boxed: str | None) -> str | None:
    """Upstream remove_boxed: the inside of "\\boxed{...}", the part after the last
    "=" if any; None when it is not of that form."""
    if not boxed or not boxed.startswith("\\boxed{") or not boxed.endswith("}"):
        return None
    inner = boxed[len("\\boxed{"):-1]
    return inner.split("=")[-1].lstrip(" ") if "=" in inner else inner


def cloze_answer(setting: str, raw: str) -> str | None:
    """Upstream parse_math_answer."""
    if setting == "few-shot-CoT":
        raw = last_nonblank_line(raw)
    if setting in ("few-shot", "few-shot-CoT"):
        return strip_fewshot_prefix(raw)
    raw = strip_fewshot_prefix(raw)
    if "\\boxed" in raw:
        return _unbox(_last_boxed(raw))
    dollars = re.findall(r"\$(.*)\$", raw)  # greedy, per line, last one
    if dollars:
        ans = dollars[-1]
        ans = ans.split("=")[-1].lstrip(" ") if "=" in ans else ans
        if ans:
            return ans
    if "=" in raw:
        ans = raw.split("=")[-1].lstrip(" ").rstrip(".")
        return ans.split("\\n")[0] if "\\n" in ans else ans
    numbers = re.findall(r"(?:\$)?\d+(?:\.\d+)?(?![\w\d])", raw)
    return numbers[-1] if numbers else None


def post_process(dataset: str, setting: str, pred: str) -> Any:
    """Upstream post_process: what the scorer reads from one output."""
    if dataset in CLOZE:
        return cloze_answer(setting, pred)
    if dataset in MULTI:  # parse_qa_multiple_answer: every letter A-F, optional brackets
        text = last_nonblank_line(pred) if setting == "few-shot-CoT" else pred
        return re.findall(r"\(*([A-F])\)*", text)
    if "zero-shot" in setting:
        return first_capital(pred)
    zh = dataset in CHINESE_QA
    text = last_nonblank_line(pred) if setting == "few-shot-CoT" else pred
    m = re.search("答案是.*?([A-G])" if zh else "answer is .*?([A-G])", text)
    return m.group(1) if m else first_capital(pred)  # the fallback reads the whole output


def is_correct(dataset: str, parsed: Any, label: Any) -> bool:
    """Upstream evaluate_single_sample: sets for multi-answer subsets, Hendrycks
    is_equiv for cloze, string equality otherwise."""
    if dataset in MULTI:
        as_set = lambda x: set(x) if isinstance(x, list) else ({x} if isinstance(x, str) else set())  # noqa: E731
        return as_set(parsed) == as_set(label)
    if dataset in CLOZE:
        from lm_eval.tasks.hendrycks_math.utils import is_equiv

        return bool(is_equiv(parsed, label))
    return parsed == label


def setting_of(task: str) -> tuple[str, str]:
    """(upstream dataset name, setting) of an evalkit AGIEval task name."""
    for prefix, setting in (("agieval_fewshot_cot_", "few-shot-CoT"), ("agieval_fewshot_", "few-shot"),
                            ("agieval_cot_", "zero-shot-CoT"), ("agieval_", "zero-shot")):
        if task.startswith(prefix):
            return task[len(prefix):].replace("_", "-"), setting
    raise ValueError(task)

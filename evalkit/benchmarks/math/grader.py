"""MATH answer extraction and equivalence grading.

Grading runs from cheap to expensive, so that the common case never touches
sympy: normalized strings, then exact rationals in-process, then a structural
split (tuples, intervals, sets, matrices, relations) compared element by
element, and for what is left a sympy comparison, unless latex_numeric shows
numerically that the two differ (most wrong answers). Sympy can hang or eat
memory on pathological input and no thread can be interrupted, so sympy runs
in a persistent child process that is killed and replaced when it overruns.
"""
from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from evalkit.benchmarks.math.latex_numeric import clearly_different
from evalkit.benchmarks.math.numbers import _numbers_match, _to_number
from evalkit.benchmarks.math.sympy_worker import _WORKER
from evalkit.core.types import Score
from evalkit.scoring.think import strip_think  # noqa: F401  (re-exported: agieval imports it from here)

log = logging.getLogger("evalkit.math")

MAX_SYMBOLIC_CHARS = 500  # a longer expression is refused rather than parsed
MAX_ANSWER_CHARS = 2_000  # a longer answer is refused unless it equals the gold verbatim
MAX_DEPTH = 30  # brace nesting beyond this is refused (recursive parsers)
MAX_EXPONENT = 10_000  # a larger literal exponent or factorial is refused


# ---------------------------------------------------------------- extraction

def _brace_partners(text: str) -> dict[int, int]:
    """Index of each unescaped '{' -> its matching '}', in one linear pass."""
    partners, stack = {}, []
    for i, ch in enumerate(text):
        if ch in "{}" and i and text[i - 1] == "\\":
            continue  # \{ and \} are literal set braces, not grouping
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            partners[stack.pop()] = i
    return partners


def last_boxed(text: str) -> str | None:
    """Content of the last balanced \\boxed{...} or \\fbox{...} (or \\boxed 5)."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)", text)]
    partners = _brace_partners(text) if starts else {}
    for at in reversed(starts):  # no slicing per start: linear however many boxes are open
        if text.startswith("{", at):
            if at in partners:
                return text[at + 1:partners[at]]
        elif text.startswith(" ", at):  # \boxed 5: up to the end of the math span
            end = min((i for i in (text.find("$", at), text.find("\n", at)) if i >= 0), default=len(text))
            return text[at:end].strip()
    return None


def _math_span(s: str) -> str:
    """The first $...$ or \\(...\\) span of a sentence, else the sentence
    (str.find, not a lazy regex: linear however many openers are unclosed)."""
    spans = []
    a = s.find("$")
    if a >= 0:
        inner = a + 2 if s.startswith("$$", a) else a + 1
        b = s.find("$", inner)
        if b > inner:
            spans.append((a, s[inner:b]))
    a = s.find("\\(")
    if a >= 0 and (b := s.find("\\)", a + 2)) > a + 2:
        spans.append((a, s[a + 2:b]))
    return min(spans)[1] if spans else s


def _after_phrase(text: str, phrase: str) -> str | None:
    """The rest of the line after the last `phrase` (case-insensitive)."""
    at = text.lower().rfind(phrase)
    if at < 0:
        return None
    line = text[at + len(phrase):].split("\n", 1)[0]
    line = re.split(r"I hope it is correct", line, maxsplit=1)[0]
    return _math_span(line.strip().lstrip(":").strip())


_HEDGE_WORD = re.compile(r"(?:\\text\{\s*|\s)(?:or|either)(?:\s*\}|\s)|或者|或", re.I)
_ARITHMETIC = re.compile(r"[\d\s.+\-*/()^{}]*(?:\\(?:frac|dfrac|tfrac|cdot|times|div|left|right)[\d\s.+\-*/()^{}]*)*")


def final_value(ans: str) -> str:
    """The value a chain of equalities ends on: "2 + 45 = 47" and "x = 2 + 45 = 47"
    answer 47. One "=" after plain arithmetic ("32 - 25 = 7") answers its right
    side; one "=" after a variable ("x = 3", "y = 2x + 1") is left to the grader,
    which reads "x = 3" as 3 and compares equations side by side. Several blanks
    ("$y=x$;$y=-x$") are left whole."""
    if "=" not in ans or len(ans) > MAX_ANSWER_CHARS or ";" in ans or "," in ans or any(r in ans for r in ("<", ">", "\\le", "\\ge", "\\ne")):
        return ans
    parts = ans.split("=")
    if len(parts) > 2 or _ARITHMETIC.fullmatch(parts[0]):
        last = parts[-1].strip()
        return last or ans
    return ans


def is_hedge(ans: str) -> bool:
    """A final answer offering alternatives: "24 or 25", "5 或 6", "3 \\text{ or } 5"
    (no MATH or AGIEval reference holds "or")."""
    return _HEDGE_WORD.search(ans) is not None


def explain_math_answer(text: str) -> tuple[str | None, str]:
    """(answer, status): the final answer of a solution (last box, else a
    Minerva-style "The final answer is ...", else "answer is ..."), with status
    answered / no_answer / hedged (docs/extraction.md)."""
    text = strip_think(text)
    ans = last_boxed(text)
    if ans is None:
        ans = _after_phrase(text, "final answer is")
    if ans is None:
        ans = _after_phrase(text, "answer is")
    if ans is None:
        return None, "no_answer"
    ans = ans.strip().strip("$").strip().rstrip(".").strip()
    if not ans:
        return None, "no_answer"
    if is_hedge(ans):
        return None, "hedged"
    return final_value(ans), "answered"


def extract_math_answer(text: str) -> str | None:
    """The final answer of a solution, None when there is none (or it hedges)."""
    return explain_math_answer(text)[0]


# -------------------------------------------------------------- normalization

_UNITS = (
    "cm", "mm", "km", "m", "meters?", "inch(?:es)?", "in", "ft", "feet", "foot", "yards?",
    "miles?", "mph", "units?", "degrees?", "deg", "hours?", "hrs?", "minutes?", "mins?",
    "seconds?", "secs?", "days?", "weeks?", "months?", "years?", "dollars?", "cents?",
    "points?", "students?", "people", "ways", "pounds?", "lbs?", "ounces?", "grams?", "g",
    "kg", "liters?", "cups?", "edges?", "sides?", "digits?", "integers?", "numbers?",
    "times", "percent", "square", "sq", "cubic", "meals?", "marbles?", "coins?", "boxes",
)
_AMBIGUOUS_UNITS = ("m", "g", "in")  # also variables or words: only removed from \text{...}


def _unit_pattern(units) -> str:
    return r"(?:(?:square|sq\.?|cubic)\s+)?(?:" + "|".join(units) + r")(?:\^\{?[23]\}?)?"


_UNIT_WORD = re.compile(rf"\s*{_unit_pattern(_UNITS)}\s*", re.IGNORECASE)
_TRAILING_UNIT = re.compile(
    rf"(?<=[\d}}).])\s+{_unit_pattern(u for u in _UNITS if u not in _AMBIGUOUS_UNITS)}\.?$",
    re.IGNORECASE)
_TEXT_MACRO = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|mathbf|mathit|rm|bf)\s*"
    r"\{([^{}]*)\}(\^\{?[23]\}?)?")
_GREEK = "alpha|beta|gamma|delta|theta|lambda|mu|phi|psi|omega|rho|sigma|tau"
_VAR_PREFIX = re.compile(rf"^(?:[A-Za-z]|\\(?:{_GREEK}))(?:_\{{?\w+\}}?)?\s*(?:=|\\in(?![A-Za-z]))")
_REPLACEMENTS = (
    (r"\\[dt]frac", r"\\frac"), (r"\\[dt]binom", r"\\binom"),
    (r"\\(?:left|right)(?![A-Za-z])\.?", ""), (r"\\[Bb]igg?[lr]?(?![A-Za-z])", ""),
    (r"\\leq(?:slant)?(?![A-Za-z])|≤", r"\\le"), (r"\\geq(?:slant)?(?![A-Za-z])|≥", r"\\ge"),
    (r"\\neq(?![A-Za-z])|≠", r"\\ne"), (r"\\lt(?![A-Za-z])", "<"), (r"\\gt(?![A-Za-z])", ">"),
    (r"\\displaystyle|(?<!\\)\\[,!;:> ]|\\q?quad(?![A-Za-z])|~", " "),
    (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°", ""),
    (r"\\%|%|\\\$|\$", ""),
    (r"\\frac\s*([0-9A-Za-z])\s*([0-9A-Za-z])", r"\\frac{\1}{\2}"),
    (r"\\frac\s*([0-9A-Za-z])\s*(?=\{)", r"\\frac{\1}"),
    (r"\\frac(\{[^{}]*\})\s*([0-9A-Za-z])", r"\\frac\1{\2}"),
    (r"\\sqrt\s*(\[[^\]]*\])?\s*([0-9A-Za-z])", r"\\sqrt\1{\2}"),
)
_COMPILED = tuple((re.compile(p), r) for p, r in _REPLACEMENTS)


def _unwrap_text(m: re.Match) -> str:
    """\\text{ cm} after a quantity is a unit and goes; \\text{(B)} keeps its content."""
    content = m.group(1)
    if content.strip().lower() in ("and", ",and", "or"):
        return ","
    before = m.string[:m.start()].rstrip()
    if before and _UNIT_WORD.fullmatch(content):
        return ""
    if before[-1:].isdigit() and content.startswith(" "):
        return ""  # Hendrycks' rule: "5\text{ anything}" names a unit
    return content + (m.group(2) or "")


def _strip_units(s: str) -> str:
    s = _TEXT_MACRO.sub(_unwrap_text, s)
    if re.search(r"[\d}]\s*,?\s*\band\b", s):  # "7, -2, and -5"
        s = re.sub(r",?\s*\band\b\s*", ",", s)
    s = re.sub(r",(?:\s*,)+", ",", s)
    return _TRAILING_UNIT.sub("", s)


def _squeeze_spaces(s: str) -> str:
    """Spaces matter only between letters (`\\pi r`); a comma is always ", "."""
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r" (?=[^A-Za-z])|(?<=[^A-Za-z]) ", "", s)
    return s.replace(",", ", ")


def _strip_variable(s: str) -> str:
    """ "x = 3" and "x \\in [1, 2]" answer for x: compare the value."""
    binders = s.count("=") + len(re.findall(r"\\in(?![A-Za-z])", s))
    m = _VAR_PREFIX.match(s) if binders == 1 and "<" not in s and ">" not in s else None
    return s[m.end():] if m else s


def normalize_answer(ans: str) -> str:
    """Canonical string form of an answer, so that most equal answers are equal strings."""
    s = ans.strip()
    if s.startswith("\\boxed") and (inner := last_boxed(s)) is not None:
        s = inner
    s = s.replace("\u2212", "-")  # unicode minus
    s = re.sub(r"(\d)(?:,\s*\\!|\{,\})\s*(?=\d{3}(?!\d))", r"\1", s)  # 10,\!000 and 10{,}000
    if "\\" in s or "~" in s or "%" in s or "$" in s or not s.isascii():  # else none matches
        for pattern, repl in _COMPILED:
            s = pattern.sub(repl, s)
    s = _strip_units(s).strip()
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")  # 1,000 -> 1000, but "1, 000" or "(1,000)" are lists
    s = _strip_variable(_squeeze_spaces(s))
    s = re.sub(r"(?<![\d}])\.(\d)", r"0.\1", s.strip(" ,"))  # .5 -> 0.5
    s = s[:-1] if s.endswith(".") and not s.endswith("..") else s
    if m := re.fullmatch(r"\(([A-Za-z])\)", s):
        s = m.group(1)  # multiple choice "(C)"
    return s


# --------------------------------------------------------------- structure

_OPEN, _CLOSE = "([{", ")]}"
_RELATION = re.compile(r"<=|>=|\\le(?![A-Za-z])|\\ge(?![A-Za-z])|\\ne(?![A-Za-z])|[=<>]")


def _split_top(s: str, sep: re.Pattern) -> tuple[list[str], list[str]]:
    """Split `s` on `sep` outside any bracket; returns the parts and the separators."""
    if not sep.search(s):
        return [s], []  # the common case, without the scan
    parts, seps, depth, last, i = [], [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch in _OPEN or s.startswith("\\langle", i):
            depth += 1
        elif ch in _CLOSE or s.startswith("\\rangle", i):
            depth -= 1
        elif depth == 0 and (m := sep.match(s, i)) and m.end() > i:
            parts.append(s[last:i])
            seps.append(m.group(0))
            last = i = m.end()
            continue
        i += 1
    return parts + [s[last:]], seps


def _outer_pair(s: str) -> tuple[str, str, str] | None:
    """(open, inner, close) when one bracket pair wraps the whole of `s`."""
    for op, cl in (("\\{", "\\}"), ("\\langle", "\\rangle")):
        if s.startswith(op) and s.endswith(cl):
            return op, s[len(op):-len(cl)], cl
    if len(s) < 2 or s[0] not in "([" or s[-1] not in ")]":
        return None
    depth = 0
    for i, ch in enumerate(s[:-1]):
        depth += (ch in _OPEN) - (ch in _CLOSE)
        if depth == 0:
            return None  # the first bracket closes early: "(a)+(b)"
    return s[0], s[1:-1], s[-1]


@dataclass(frozen=True)
class _Node:
    kind: str  # atom | ordered | unordered | matrix | relation
    items: tuple = ()
    tag: str = ""  # brackets of an ordered node, relations of a relation node


_COMMA = re.compile(r",")
_CANONICAL_RELATION = {">": "<", "<=": "\\le", ">=": "\\le", "\\ge": "\\le"}


def _structure(s: str) -> _Node:
    """Read the shape of a normalized answer; elements stay strings."""
    if m := re.fullmatch(r"\\begin\{([pbBvV]?matrix)\}(.*)\\end\{\1\}", s, re.DOTALL):
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        return _Node("matrix", tuple(tuple(c.strip() for c in r.split("&")) for r in rows))
    parts, _ = _split_top(s, re.compile(r"\\cup(?![A-Za-z])"))
    if len(parts) > 1:
        return _Node("unordered", tuple(parts), "cup")
    items = [i for i in _split_top(s, _COMMA)[0] if i.strip()]
    if len(items) > 1:  # "enter all solutions, separated by commas"
        return _Node("unordered", tuple(items))
    parts, rels = _split_top(s, _RELATION)
    if rels:
        if all(r in (">", ">=", "\\ge") for r in rels):
            parts.reverse()  # "3 > x" states the same as "x < 3"
        tag = " ".join(_CANONICAL_RELATION.get(r, r) for r in rels)
        return _Node("relation", tuple(parts), tag)
    pair = _outer_pair(s)
    if pair and pair[0] == "\\{":
        return _Node("unordered", tuple(_split_top(pair[1], _COMMA)[0]))
    if pair and len(items := _split_top(pair[1], _COMMA)[0]) > 1:
        return _Node("ordered", tuple(items), pair[0] + pair[2])
    return _Node("atom", (s,))


# ------------------------------------------------------------ comparisons

@dataclass
class _Budget:
    """The deadline of one is_equiv call and what went wrong along the way."""

    deadline: float
    trouble: list[str] = field(default_factory=list)

    def refuse(self, why: str, pred: str, gold: str) -> bool:
        if not self.trouble:  # one warning per call, however many elements fail
            log.warning("math grader: %s comparing %.80r with %.80r; scored wrong", why, pred, gold)
        self.trouble.append(why)
        return False

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


def _explosive(s: str) -> str | None:
    """Why `s` is refused before evaluation (huge numbers, deep nesting), or None."""
    if len(s) > MAX_SYMBOLIC_CHARS:
        return f"answer longer than {MAX_SYMBOLIC_CHARS} characters"
    depth = 0
    for ch in s:
        depth += (ch == "{") - (ch == "}")
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH}"
    partners = _brace_partners(s)
    for m in re.finditer(r"\^\s*(\{)?", s):
        end = partners.get(m.end() - 1, m.end()) if m.group(1) else m.end() + 1
        arg = s[m.end():end]
        numeric = not re.search(r"(?<!\\)\b[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", arg))
        if numeric and ("^" in arg or "!" in arg) or any(
                int(d) > MAX_EXPONENT for d in re.findall(r"\d{1,12}", arg)):
            return "exponent too large to evaluate"  # 2^{2^{100}}, 10^{10^{10}}, 2^{10^9}
    if any(int(d) > MAX_EXPONENT for d in re.findall(r"(\d{1,12})\s*!", s)):
        return "factorial too large to evaluate"
    return None


def _is_word(s: str) -> bool:
    return re.fullmatch(r"[A-Za-z]{2,}(?: [A-Za-z]+)*", s) is not None


def _compare_atoms(p: str, g: str, budget: _Budget) -> bool:
    if p == g:
        return True
    if _is_word(p) or _is_word(g):  # "Monday", "even": words, not products of symbols
        return p.casefold() == g.casefold()
    a, b = _to_number(p), _to_number(g)
    if a is not None and b is not None:
        return _numbers_match(a, b)
    why = _explosive(p) or _explosive(g)
    if why:
        return budget.refuse(why, p, g)
    if clearly_different(p, g):  # what sympy would conclude, 25 ms sooner
        return False
    verdict = _WORKER.compare(p, g, budget.deadline)
    if verdict in ("equal", "different"):
        return verdict == "equal"
    return budget.refuse(verdict, p, g)


def _compare_unordered(ps: tuple, gs: tuple, budget: _Budget, depth: int) -> bool:
    ps_n, gs_n = Counter(map(normalize_answer, ps)), Counter(map(normalize_answer, gs))
    same = ps_n & gs_n  # identical elements pair up at once; only the rest is compared pairwise
    left = list((gs_n - same).elements())
    for p in (ps_n - same).elements():  # greedy is exact because equivalence is transitive
        if budget.expired():
            return budget.refuse("timeout", p, "")
        hit = next((i for i, g in enumerate(left) if _compare(p, g, budget, depth + 1)), None)
        if hit is None:
            return False
        left.pop(hit)
    return not left


def _compare(p: str, g: str, budget: _Budget, depth: int = 0) -> bool:
    p, g = normalize_answer(p), normalize_answer(g)
    if p == g:
        return True
    if budget.expired():  # long lists are slow in-process too
        return budget.refuse("timeout", p, g)
    if depth > 8 or max(len(p), len(g)) > MAX_ANSWER_CHARS:
        return budget.refuse("answer too long or too deeply nested", p, g)
    a, b = _structure(p), _structure(g)
    if a.kind != b.kind or len(a.items) != len(b.items):
        return False
    if a.kind == "atom":
        return _compare_atoms(p, g, budget)
    if a.kind == "unordered":
        return a.tag == b.tag and _compare_unordered(a.items, b.items, budget, depth)
    if a.kind == "matrix":
        if [len(r) for r in a.items] != [len(r) for r in b.items]:
            return False
        pairs = [(x, y) for ra, rb in zip(a.items, b.items) for x, y in zip(ra, rb)]
    else:  # ordered tuple/interval (brackets must agree) or relation (same relations)
        pairs = list(zip(a.items, b.items)) if a.tag == b.tag else []
    return bool(pairs) and all(_compare(x, y, budget, depth + 1) for x, y in pairs)


def _comma_readings(s: str) -> list[str]:
    """A bare "70,110" is 70110 or the list 70, 110: both readings are tried."""
    if re.fullmatch(r"\s*\d{1,3}(?:,\d{3})+\s*", s):
        return [s, s.replace(",", ", ")]  # normalize_answer keeps ", " as a list
    return [s]


_QUOTES = "\"'“”‘’`"
_WORDS_AFTER = re.compile(r"(-?\d[\d,]*(?:\.\d+)?|\\frac\{\d+\}\{\d+\})(?:st|nd|rd|th)?\s*"
                          r"(?:\\text\{\s*)?[A-Za-z][A-Za-z .'-]*\}?\s*")
_CHOICE_WITH_TEXT = re.compile(r"(?:\\text\{\s*)?\(([A-Za-z])\)[^{}]*\}?")


def _readings(pred: str, gold: str) -> list[str]:
    """The prediction as written, plus what it commits to when it says more
    than the reference asks for: quotes around a word ('"even"'), words or units
    after a number the reference gives bare ("550 gallons", "6 Trinkets", "12th
    grade"), an option's text after its letter when the reference is the letter
    ("\text{(C) Plane}" for "\text{(C)}")."""
    out = []
    bare = pred.strip().strip("$").strip()
    if len(bare) >= 2 and bare[0] in _QUOTES and bare[-1] in _QUOTES:
        out.append(bare[1:-1])
    text_gold = normalize_answer(gold)
    if not re.search(r"[A-Za-z]", text_gold) and (m := _WORDS_AFTER.fullmatch(bare)):
        out.append(m.group(1))
    if re.fullmatch(r"[A-Za-z]", text_gold) and (m := _CHOICE_WITH_TEXT.fullmatch(bare)):
        out.append(m.group(1))
    return out + [pred]  # the narrower readings first: they never need sympy


def _judge(pred: str | None, gold: str, timeout_s: float) -> tuple[bool, str]:
    """Verdict and its reason."""
    if pred is None:
        return False, "no answer found"
    budget = _Budget(time.monotonic() + timeout_s)
    for p in (r for reading in _readings(pred, gold) for r in _comma_readings(reading)):
        for g in _comma_readings(gold):
            if _compare(p, g, budget):
                return True, "equivalent"
    return False, budget.trouble[0] if budget.trouble else "not equivalent"


def is_equiv(pred: str | None, gold: str, timeout_s: float = 5.0) -> bool:
    """Whether an extracted answer means the same as the gold answer.

    - Plain numbers compare exactly; a decimal standing for a value with no
      finite decimal form matches it within REL_TOL (see numbers.py).
    - Tuples and intervals compare element-wise, brackets included; sets,
      unions and bare comma lists ignore order (as multisets); matrices
      compare cell-wise whatever their bracket style.
    - "x = 3" answers with its value. Other equations and inequalities compare
      side by side ("3 > x" is read "x < 3"), never rescaled: MATH fixes the
      form of an equation answer.
    - Letter words ("Monday", "even") compare as words, case-insensitively.
    - Anything else goes to sympy under the deadline; refused or timed-out
      comparisons are False and logged on "evalkit.math".
    """
    return _judge(pred, gold, timeout_s)[0]


def warm_up() -> bool:
    """Start the sympy worker and wait until it is ready (importing sympy takes a
    second or two), so that the first comparison needing it does not pay for it."""
    with _WORKER._lock:
        return _WORKER._ensure_ready()


def grade(pred_text: str, gold: str, timeout_s: float = 5.0) -> Score:
    """Score a full model output against a gold MATH answer."""
    extracted = extract_math_answer(pred_text)
    ok, why = _judge(extracted, gold, timeout_s)
    return Score(1.0 if ok else 0.0, extracted, why)

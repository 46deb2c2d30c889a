"""Exact numbers in MATH answers: integers, decimals, fractions, repeating decimals
and scientific notation read as exact rationals, and when two of them match."""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# A decimal that stands for a value with no finite decimal form (1/3, sqrt 2)
# must match it to 1e-4 relative: 0.3333 ~ 1/3 and 1.4142 ~ sqrt 2, but 3.14 is
# not pi. Where the exact value does have a finite decimal form the decimal
# must be exactly it, so 3.0001 is not 3 (math-verify instead rounds both
# sides to 6 places, which rejects 0.3333 ~ 1/3).
REL_TOL = Fraction(1, 10_000)


@dataclass(frozen=True)
class _Num:
    value: Fraction
    decimal: bool  # written with a decimal point, so possibly a rounded value


def _pow10(exponent: str) -> Fraction:
    if abs(int(exponent)) > 400:
        raise ValueError("exponent too large for the in-process path")
    return Fraction(10) ** int(exponent)


def _repeating(whole: str, fixed: str, period: str) -> Fraction:
    """0.1\\overline{6} = 1/6: the exact value of a repeating decimal."""
    scale = 10 ** len(fixed)
    numerator = int(whole + fixed + period) - int(whole + fixed)
    return Fraction(numerator, scale * (10 ** len(period) - 1))


_DEC = r"(\d+(?:\.\d*)?)"
_NUMBER_FORMS = (
    (re.compile(_DEC), lambda m: Fraction(m[1])),
    (re.compile(r"\\frac\{(\d+)\}\{(\d+)\}|(\d+)/(\d+)"),
     lambda m: Fraction(int(m[1] or m[3]), int(m[2] or m[4]))),
    (re.compile(r"(\d+)\\frac\{(\d+)\}\{(\d+)\}"),  # mixed number 11\frac{2}{3}
     lambda m: int(m[1]) + Fraction(int(m[2]), int(m[3]))),
    (re.compile(_DEC + r"(?:\\times|\\cdot|\*)10\^\{?([-+]?\d+)\}?"),
     lambda m: Fraction(m[1]) * _pow10(m[2])),
    (re.compile(_DEC + r"[eE]([-+]?\d+)"), lambda m: Fraction(m[1]) * _pow10(m[2])),
    (re.compile(r"10\^\{?([-+]?\d+)\}?"), lambda m: _pow10(m[1])),
    (re.compile(r"(\d+)\.(\d*)\\overline\{(\d+)\}"), lambda m: _repeating(m[1], m[2], m[3])),
)


def _to_number(s: str) -> _Num | None:
    """Exact value of a plain number (int, decimal, fraction, mixed, a*10^k)."""
    sign, body = (-1, s[1:]) if s.startswith("-") else (1, s.lstrip("+"))
    if len(body) > 400 or (len(body) >= 300 and re.search(r"\d{300}", body)):
        return None  # long literals go the guarded slow way
    for pattern, value in _NUMBER_FORMS:
        if m := pattern.fullmatch(body):
            try:
                return _Num(sign * value(m), "." in body and "overline" not in body)
            except (ZeroDivisionError, ValueError):
                return None
    return None


def _terminates(q: Fraction) -> bool:
    """True when q has a finite decimal expansion (denominator 2^a 5^b)."""
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _numbers_match(a: _Num, b: _Num) -> bool:
    if a.value == b.value:
        return True
    approx = (a.decimal and not _terminates(b.value)) or (b.decimal and not _terminates(a.value))
    return approx and abs(a.value - b.value) <= REL_TOL * max(abs(a.value), abs(b.value))

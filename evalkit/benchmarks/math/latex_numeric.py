"""A quick numeric proof that two simple LaTeX answers differ.

Most answers that reach the MATH grader's sympy worker are plainly wrong (a
number against a polynomial, 2 sqrt 3 against 3 sqrt 2), and sympy takes
about 25 ms to parse and simplify each. Here a tiny parser reads a
conservative subset of LaTeX arithmetic and evaluates it with complex floats
at fixed points, carrying a bound on its own rounding error. When two answers
are far apart at some point they are not equal for sympy either, so the grader
can say "different" without it. Nothing here ever says "equal": answers that
agree numerically still go to sympy, so the grader's verdicts do not change.

The subset is chosen to read exactly as latex2sympy2_extended (the grader's
parser) reads it. Where its reading is surprising, and might change in another
version, both readings are kept (Either):
- 3\\frac{1}{2} and 2(3): it adds an integer to a following Rational (a mixed
  number, 7/2 and 5), where a reader may multiply,
- 1200_7: it drops a subscript on a number (1200), which names the base (441).
Everything else where it does something unusual is refused (None, "don't know"):
- 2 3, (2)3, \\frac{4}{2}(3): numbers it may add that are not a literal and a Rational,
- x(3), x^2(3), \\pi(2): a letter before a one-term bracket is a function call,
- dx, d\\pi and any two adjacent letters: differentials, function names,
- e, E and I: Euler's number, a symbol e, and an I that drops its exponent,
- a/bc, 2^3^2, x^23, braces outside \\frac/\\sqrt/^ arguments, a digit after '}'
  (its normalizer rewrites \\frac{..}{..}3), other subscripts, words, functions, |..|,
  factorials, \\infty and every other command.
"""
from __future__ import annotations

import cmath
import math
import re
import zlib
from dataclasses import dataclass

_EPS = 2.0 ** -52
_MAX_NESTING = 40  # deeper brackets are refused rather than recursed into
_SAFE_INT = 2 ** 53  # integers below this are exact floats

# "Clearly different": far beyond the grader's 1e-4 tolerance for decimals, far
# beyond sympy's 1e-25 absolute tolerance near zero, and far beyond the
# evaluation's own rounding error.
REL_GAP = 2e-3
ABS_GAP = 1e-12
ERROR_MARGIN = 1e3

_MACROS = {"frac": "frac", "dfrac": "frac", "tfrac": "frac", "cfrac": "frac",
           "sqrt": "sqrt", "pi": "pi", "cdot": "*", "times": "*"}
_TOKEN = re.compile(r"\s*(?:(\d+_(?:\d|\{\d+\}))|(\d+(?:\.\d+)?)|\\([A-Za-z]+)|([A-Za-z])|([-+*/^()\[\]{}]))",
                    re.ASCII)  # ASCII digits and spaces only, as latex2sympy's lexer
_DIGIT_AFTER_BRACE = re.compile(r"\}\s?\d", re.ASCII)


# ------------------------------------------------------------------ syntax

@dataclass(frozen=True)
class Num:
    value: float
    exact: bool  # an integer the float holds exactly


@dataclass(frozen=True)
class Sym:
    name: str  # lowercased, as latex2sympy names it


@dataclass(frozen=True)
class Const:
    name: str  # "pi" or "i"


@dataclass(frozen=True)
class Neg:
    arg: object


@dataclass(frozen=True)
class Bin:
    op: str  # + - * /
    left: object
    right: object


@dataclass(frozen=True)
class Pow:
    base: object
    exp: object


@dataclass(frozen=True)
class Root:
    radicand: object
    index: object | None  # None for a square root


@dataclass(frozen=True)
class Either:
    """Two readings of one piece of text; `index` numbers the choice within a tree.
    An answer is "clearly different" only if it is under every reading, so the
    one latex2sympy takes, today or in another version, is always covered."""

    first: object
    second: object
    index: int


@dataclass(frozen=True)
class _Token:
    kind: str  # num | based | macro | letter | op
    text: str


@dataclass(frozen=True)
class _Factor:
    """One factor of a juxtaposition chain, with what the chain rules need."""

    node: object
    plain: bool = False  # no letter, \pi, \sqrt or ^: latex2sympy may hold it as a Rational
    literal: bool = False  # a bare integer literal
    letter_headed: bool = False  # a letter or \pi, maybe with an exponent: the x of x(3)
    group: bool = False  # a bracket pair, maybe with an exponent
    sums: bool = False  # ... holding a top-level binary + or -


class _Refuse(Exception):
    """Outside the subset: the caller answers "don't know"."""


def _tokens(s: str) -> list[_Token]:
    out, pos, end = [], 0, len(s.rstrip())
    while pos < end:
        m = _TOKEN.match(s, pos)
        if not m:
            raise _Refuse
        based, num, macro, letter, op = m.groups()
        if based is not None:
            out.append(_Token("based", based))
        elif num is not None:
            out.append(_Token("num", num))
        elif macro is not None:
            if macro not in _MACROS:
                raise _Refuse
            out.append(_Token("macro", _MACROS[macro]))
        elif letter is not None:
            if letter in "eEI":
                raise _Refuse  # e is Euler's number, E a symbol e; I^2 is I (an exponent on I is dropped)
            out.append(_Token("letter", letter))
        else:
            out.append(_Token("op", op))
        pos = m.end()
    for a, b in zip(out, out[1:]):
        if a.kind == "letter" and (b.kind == "letter" or (a.text == "d" and b.kind == "macro")):
            raise _Refuse  # "dx", "ln", "d\pi": not products for latex2sympy
        if a.kind in ("num", "based") and b.kind in ("num", "based"):
            raise _Refuse  # "2 3" is 5 for latex2sympy
    return out


class _Parser:
    """Recursive descent over the tokens, binding as latex2sympy binds: a sum of
    products (* / \\cdot \\times) of signed juxtaposition chains of powers."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.toks, self.pos, self.depth, self.eithers = tokens, 0, 0, 0

    def peek(self) -> _Token | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def at(self, kind: str, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and (not texts or tok.text in texts)

    def take(self, kind: str, text: str) -> None:
        if not self.at(kind, text):
            raise _Refuse
        self.pos += 1

    def either(self, first, second) -> Either:
        self.eithers += 1
        return Either(first, second, self.eithers - 1)

    def whole(self):
        node, _ = self.sum()
        if self.peek() is not None:
            raise _Refuse
        return node

    def sum(self):
        """(node, whether a binary + or - was read at this level)."""
        node, binary = self.signed(), False
        while self.at("op", "+", "-"):
            op = self.peek().text
            self.pos += 1
            node, binary = Bin(op, node, self.signed()), True
        return node, binary

    def signed(self, after_div: bool = False):
        if self.at("op", "+", "-"):
            tok = self.peek()
            assert tok is not None  # at() saw it
            negate = tok.text == "-"
            self.pos += 1
            arg = self.signed(after_div)
            return Neg(arg) if negate else arg
        node, length = self.chain()
        if after_div and length > 1:
            raise _Refuse  # latex2sympy reads a/bc as a/(bc); a reader may mean (a/b)c
        return node if after_div else self.product(node)

    def product(self, node):
        while self.at("op", "*", "/") or self.at("macro", "*"):
            div = self.peek().text == "/"
            self.pos += 1
            node = Bin("/" if div else "*", node, self.signed(after_div=div))
        return node

    def chain(self):
        """Juxtaposed factors: (their product, how many)."""
        factors = [self.factor()]
        while self.starts_factor():
            factors.append(self.factor())
        for a, b in zip(factors, factors[1:]):
            if a.letter_headed and b.group and not b.sums:
                raise _Refuse  # x(3) and x^2(3) are function calls
        last = None
        if len(factors) > 1 and factors[-2].plain and factors[-1].plain:
            # latex2sympy adds an integer to a following Rational (3\frac{1}{2} is 7/2,
            # 2(3) is 5) where a reader may multiply: both readings, when the integer
            # is a literal; anything else is refused.
            a, b = factors[-2:]
            if not a.literal or (len(factors) > 2 and factors[-3].plain):
                raise _Refuse
            last = self.either(Bin("*", a.node, b.node), Bin("+", a.node, b.node))
            factors = factors[:-2]
        nodes = [f.node for f in factors] + ([last] if last is not None else [])
        node = nodes[0]
        for n in nodes[1:]:
            node = Bin("*", node, n)
        return node, len(factors) + (2 if last is not None else 0)

    def starts_factor(self) -> bool:
        return (self.at("num") or self.at("based") or self.at("letter")
                or self.at("macro", "frac", "sqrt", "pi") or self.at("op", "(", "["))

    def factor(self) -> _Factor:
        base = self.atom()
        if not self.at("op", "^"):
            return base
        self.pos += 1
        bare_letter = self.at("letter") or self.at("macro", "pi")
        exp = self.exponent()
        if self.at("op", "^"):
            raise _Refuse  # 2^3^2 is (2^3)^2 = 64 in latex2sympy
        return _Factor(Pow(base.node, exp), letter_headed=base.letter_headed or bare_letter,
                       group=base.group, sums=base.sums)

    def exponent(self):
        if self.at("op", "{"):
            return self.braced()
        tok = self.peek()
        if tok is not None and tok.kind == "num" and len(tok.text) == 1:
            self.pos += 1  # one digit only: latex2sympy reads x^23 as x^{23}
            return Num(float(tok.text), True)
        if self.at("letter") or self.at("macro", "pi"):
            return self.atom().node
        raise _Refuse

    def braced(self):
        self.take("op", "{")
        node = self.nested(lambda: self.sum()[0])
        self.take("op", "}")
        return node

    def nested(self, parse):
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise _Refuse
        node = parse()
        self.depth -= 1
        return node

    def atom(self) -> _Factor:
        tok = self.peek()
        if tok is None:
            raise _Refuse
        self.pos += 1
        if tok.kind == "num":
            value = float(tok.text)
            if not math.isfinite(value):
                raise _Refuse  # a literal of 309 digits or more
            exact = "." not in tok.text and value < _SAFE_INT
            return _Factor(Num(value, exact), plain=True, literal=exact)
        if tok.kind == "based":
            return _Factor(self.based(tok.text), plain=True)
        if tok.kind == "letter":
            return _Factor(Const("i") if tok.text == "i" else Sym(tok.text.lower()), letter_headed=True)
        if (tok.kind, tok.text) == ("macro", "pi"):
            return _Factor(Const("pi"), letter_headed=True)
        if (tok.kind, tok.text) == ("macro", "frac"):
            start = self.pos
            top, bottom = self.braced(), self.braced()
            return _Factor(Bin("/", top, bottom), plain=_plain(self.toks[start:self.pos]))
        if (tok.kind, tok.text) == ("macro", "sqrt"):
            index = None
            if self.at("op", "["):
                self.pos += 1
                index = self.nested(lambda: self.sum()[0])
                self.take("op", "]")
            return _Factor(Root(self.braced(), index))
        if tok.kind == "op" and tok.text in "([":
            start = self.pos
            node, sums = self.nested(self.sum)
            self.take("op", ")" if tok.text == "(" else "]")
            return _Factor(node, plain=_plain(self.toks[start:self.pos]), group=True, sums=sums)
        raise _Refuse

    def based(self, text: str):
        """1200_7: latex2sympy drops the subscript and reads 1200; it is also the
        base-7 numeral 441. Both readings."""
        digits, base = text.split("_")
        ignored = float(digits)
        if not math.isfinite(ignored):
            raise _Refuse
        try:
            value = float(int(digits, int(base.strip("{}"))))
        except ValueError:  # base 1, base 40, or a digit too big for the base
            return Num(ignored, ignored < _SAFE_INT)
        except OverflowError:
            raise _Refuse from None
        return self.either(Num(ignored, ignored < _SAFE_INT), Num(value, value < _SAFE_INT))


def _plain(tokens: list[_Token]) -> bool:
    """No letter, \\pi, \\sqrt or ^: latex2sympy may have built a Rational from it."""
    return not any(t.kind == "letter" or (t.kind == "macro" and t.text in ("pi", "sqrt"))
                   or (t.kind == "op" and t.text == "^") for t in tokens)


MAX_READINGS = 8  # more ambiguous pieces than this: don't know


@dataclass(frozen=True)
class Parsed:
    node: object
    readings: int  # 2 to the number of Either nodes in it


def parse(s: str) -> Parsed | None:
    """The expression tree of `s`, or None when `s` is outside the subset."""
    if _DIGIT_AFTER_BRACE.search(s):
        return None
    try:
        parser = _Parser(_tokens(s))
        node = parser.whole()
    except (_Refuse, RecursionError):
        return None
    return Parsed(node, 2 ** parser.eithers) if 2 ** parser.eithers <= MAX_READINGS else None


# -------------------------------------------------------------- evaluation

@dataclass(frozen=True)
class Approx:
    """A computed value and a bound on its distance from the exact value."""

    value: complex
    error: float


def symbol_value(name: str, point: int) -> float:
    """The value of a symbol at evaluation point `point`: positive reals, where
    identities sympy may use under any assumptions on its symbols hold."""
    return 1.2 + 1.6 * zlib.crc32(f"{point}:{name}".encode()) / 2 ** 32


def _exact_int(a: Approx) -> bool:
    return a.error == 0 and a.value.imag == 0 and a.value.real.is_integer() and abs(a.value.real) < _SAFE_INT


def _rounded(value: complex, error: float, ulps: float) -> Approx:
    if not (cmath.isfinite(value) and math.isfinite(error)):
        raise OverflowError
    return Approx(value, error + ulps * _EPS * abs(value))


def _add(a: Approx, b: Approx, sign: int) -> Approx:
    v = a.value + sign * b.value
    if _exact_int(a) and _exact_int(b) and abs(v) < _SAFE_INT:
        return Approx(v, 0.0)
    return _rounded(v, a.error + b.error, 2)


def _mul(a: Approx, b: Approx) -> Approx:
    v = a.value * b.value
    if _exact_int(a) and _exact_int(b) and abs(v) < _SAFE_INT:
        return Approx(v, 0.0)
    return _rounded(v, abs(a.value) * b.error + abs(b.value) * a.error + a.error * b.error, 4)


def _div(a: Approx, b: Approx) -> Approx:
    margin = abs(b.value) - b.error
    if margin <= 0.5 * abs(b.value) or b.value == 0:
        raise ZeroDivisionError  # the divisor may be zero, or nearly
    v = a.value / b.value
    return _rounded(v, (a.error + abs(v) * b.error) / margin, 8)


def _pow(a: Approx, b: Approx) -> Approx:
    if _exact_int(b):
        return _int_pow(a, int(b.value.real))
    # a^b = exp(b log a), on the principal branch like sympy; refused where the
    # error ball around a touches the cut (the sign of a float zero picks a side).
    size = abs(a.value)
    if size - a.error <= 0.5 * size or size == 0:
        raise ZeroDivisionError
    if a.value.real < 0 and abs(a.value.imag) <= 2 * a.error + 4 * _EPS * size:
        raise ValueError("on the branch cut")
    log_a = cmath.log(a.value)
    log_err = a.error / (size - a.error)
    w_err = abs(b.value) * log_err + b.error * (abs(log_a) + log_err)
    if w_err > 0.1:
        raise ValueError("too uncertain")
    v = a.value ** b.value
    ulps = 8 * (1 + abs(b.value) * (1 + abs(log_a) + math.pi))
    return _rounded(v, 1.2 * w_err * abs(v), ulps)


def _int_pow(a: Approx, n: int) -> Approx:
    if n == 0:
        return Approx(1 + 0j, 0.0)  # sympy's 0^0 is 1 too
    v = a.value ** n
    size = abs(a.value)
    if n > 0:
        # mean value bound: |(a+d)^n - a^n| <= n (|a|+|d|)^(n-1) |d|
        err = n * (size + a.error) ** (n - 1) * a.error if a.error else 0.0
    else:
        if size - a.error <= 0.5 * size or size == 0:
            raise ZeroDivisionError
        err = -n * (size - a.error) ** (n - 1) * a.error if a.error else 0.0
    if _exact_int(a) and n > 0 and abs(v) < _SAFE_INT:
        return Approx(v, 0.0)
    return _rounded(v, err, 8 * (abs(n) + 1))


def _evaluate(node, point: int, reading: int) -> Approx:
    if isinstance(node, Num):
        return Approx(complex(node.value), 0.0 if node.exact else _EPS * abs(node.value))
    if isinstance(node, Sym):
        return Approx(complex(symbol_value(node.name, point)), 0.0)
    if isinstance(node, Const):
        return Approx(1j, 0.0) if node.name == "i" else Approx(complex(math.pi), _EPS * math.pi)
    if isinstance(node, Either):
        return _evaluate(node.second if reading >> node.index & 1 else node.first, point, reading)
    if isinstance(node, Neg):
        a = _evaluate(node.arg, point, reading)
        return Approx(-a.value, a.error)
    if isinstance(node, Bin):
        a, b = _evaluate(node.left, point, reading), _evaluate(node.right, point, reading)
        if node.op in "+-":
            return _add(a, b, 1 if node.op == "+" else -1)
        return _mul(a, b) if node.op == "*" else _div(a, b)
    if isinstance(node, Pow):
        return _pow(_evaluate(node.base, point, reading), _evaluate(node.exp, point, reading))
    if isinstance(node, Root):
        index = Approx(2 + 0j, 0.0) if node.index is None else _evaluate(node.index, point, reading)
        return _pow(_evaluate(node.radicand, point, reading), _div(Approx(1 + 0j, 0.0), index))
    raise TypeError(node)


def evaluate(parsed: Parsed, point: int = 0, reading: int = 0) -> Approx | None:
    """The value of a parsed expression at a point under one of its readings
    (0 <= reading < parsed.readings), or None when it cannot be trusted
    (overflow, division by about zero, a branch cut)."""
    try:
        return _evaluate(parsed.node, point, reading)
    except (ArithmeticError, ValueError, RecursionError):  # Overflow-, ZeroDivisionError too
        return None


POINTS = (0, 1)


def _apart(a: Approx | None, b: Approx | None) -> bool:
    if a is None or b is None:
        return False
    gap = abs(a.value - b.value)
    size = max(abs(a.value), abs(b.value))
    return (gap > REL_GAP * size and gap > ABS_GAP * max(1.0, size)
            and gap > ERROR_MARGIN * (a.error + b.error))


def clearly_different(p: str, g: str) -> bool:
    """True only when `p` and `g` are both in the subset and, under every
    reading of each, far apart at some point, so that no exact comparison
    could find them equal. False means "don't know", never "equal"."""
    a, b = parse(p), parse(g)
    if a is None or b is None or a.readings * b.readings > MAX_READINGS:
        return False
    return all(any(_apart(evaluate(a, point, ra), evaluate(b, point, rb)) for point in POINTS)
               for ra in range(a.readings) for rb in range(b.readings))

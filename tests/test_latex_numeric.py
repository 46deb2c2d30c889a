"""The numeric "clearly different" check the MATH grader runs before sympy:
its reading of LaTeX against latex2sympy's (the grader's own parser), its
error bounds against sympy's 30-digit values, and that it never calls equal
answers different."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from evalkit.benchmarks.math.grader import normalize_answer
from evalkit.benchmarks.math.latex_numeric import POINTS, clearly_different, evaluate, parse, symbol_value

sympy = pytest.importorskip("sympy")
l2s = pytest.importorskip("latex2sympy2_extended")

PAIRS = yaml.safe_load((Path(__file__).parent / "fixtures" / "math_pairs.yaml").read_text(encoding="utf-8"))
_CONFIG = l2s.NormalizationConfig(basic_latex=True, units=False, malformed_operators=True,
                                  nits=False, boxed="none")


def _reference(s: str, point: int) -> complex:
    """latex2sympy's reading of `s` (i the imaginary unit, as the grader has it),
    evaluated by sympy to 30 digits at the same point."""
    expr = l2s.latex2sympy(s, normalization_config=_CONFIG)
    expr = expr.subs(sympy.Symbol("i"), sympy.I)
    subs = {x: symbol_value(x.name, point) for x in expr.free_symbols}
    return complex(sympy.N(expr.subs(subs), 30))


def _closest_reading(parsed, s: str, point: int):
    """latex2sympy's value at `point`, and the reading of ours closest to it."""
    values = [evaluate(parsed, point, r) for r in range(parsed.readings)]
    assert None not in values, s
    true = _reference(s, point)
    return true, min(values, key=lambda v: abs(v.value - true))


def _assert_matches_reference(s: str) -> None:
    parsed = parse(s)
    assert parsed is not None, s
    for point in POINTS:
        true, mine = _closest_reading(parsed, s, point)
        assert abs(mine.value - true) <= max(mine.error, 1e-300), (s, point, mine, true)
        assert mine.error <= 1e-9 * max(1.0, abs(true)), (s, mine)  # the bound is also tight


SUPPORTED = [
    "5", "-3", "0", "2.5", "18.90", "007", r"\frac{1}{2}", r"-\frac{\sqrt{3}}{2}", r"\frac{7}{6}\pi-\frac{\sqrt{3}}{2}",
    r"2\sqrt{22}", r"\sqrt[3]{8}", r"\sqrt[3]{x}", r"\sqrt{x-2}", r"-\sqrt{x-2}+2", r"\sqrt{2}^2-2",
    "x^2+10x+25", "(x+1)^2", "4x(8x^2-x+5)", "(-4x^2+x+1)(4x^2+x+1)", "7x(x-1)(x-2)", r"3q\cdot r",
    r"\frac{1}{2x}", r"\frac{2x-7}{(x+1)(x-2)}", r"\frac{h^2}{m}", "x^{-1}", "x^{1/2}", r"2^{\frac{1}{2}}", "2^{10}",
    "10^{-3}", r"1.5\times10^{3}", r"2\cdot3", "2*-3", "--2", "2-+3", r"\pi r^2", r"r^2\pi", r"\frac{\pi^2}{6}",
    "6+9i", "-11+27i", "(1+i)^2", "i^3", "x^i", "2^x3", r"x^\pi", "[x+1]2", "A", "32R^2-3(a^2+b^2+c^2)",
    "1/2", r"\frac{x}{2}y", "x^2y", "a^{b}c", r"\cfrac{25}{16}", r"\dfrac{3}{4}", "6(1+\\sqrt{3})", "(x-5)(x^2-4x+7)",
    "0.5x", "x^{2.5}", "(2)^{2}", "1/2/3", "1/2*3", "2^{50}-2^{50}+1",
    r"3\frac{3}{8}", r"-1\frac{9}{10}", "2(3)", r"x+2\frac{1}{2}", "1200_7", "4210_{7}", "11010_2", "8_9",
]


@pytest.mark.parametrize("s", SUPPORTED)
def test_value_matches_latex2sympy_and_sympy(s):
    _assert_matches_reference(s)


UNSUPPORTED = [
    "e", "E", "2e", "e^{i\\pi}", "1.5e3", "I", "I^2",  # Euler's number; a symbol e; I drops its exponent
    "x_1", "x^{2}_{1}", "1.5_2", "12_x", "1_23",  # subscripts other than a base
    r"\sin x", r"2\cos15", r"\log_2 8", r"\binom{5}{2}", "f(x)", "3-2f(x)", "x(3)", "x^2(3)", r"\pi(2)", "x[3]",
    "5!", "|x|", r"\infty", r"-\infty", "3:1", r"\overline{CD}", "1:03PM", "ab", "qr", "dx", r"d\pi", "2 3",
    "(2)3", r"\frac{4}{2}(3)", "2(3)(4)", r"(2)\frac{1}{2}", r"2.5\frac{1}{2}", r"\frac{1}{2}3", "1/2x", r"1/2\pi", "2^3^2", "x^23",
    "x^-1", "{x}", "{2}{3}", r"\sqrt{2}3", "2^{2}3", r"\{1\}", "(1,2)", "1,2", ".5", "1.", "2.5.3", r"\alpha",
    r"\sqrt2", r"\frac12", "x^", "", "(2]", "x'", r"\left(2\right)", r"8{, }880", "2^{2005}" + "{", "x=3",
]


@pytest.mark.parametrize("s", UNSUPPORTED)
def test_unsupported_syntax_is_refused(s):
    assert parse(s) is None


def test_overflow_and_zero_divisors_are_not_evaluated():
    for s in ["2^{2005}", r"\frac{1}{0}", r"\frac{1}{x-x}", "0^{-1}", r"\frac{1}{\sqrt{2}^2-2}", r"\sqrt{-4}", "(-8)^{1/3}"]:
        node = parse(s)
        assert node is not None, s
        assert all(evaluate(node, p) is None for p in POINTS), s


EQUAL = [(p["pred"], p["gold"]) for p in PAIRS if p["equiv"]] + [
    (r"\sqrt{2}^2-2", "0"), ("(x+1)^2", "x^2+2x+1"), ("0.3333", r"\frac13"), (r"\frac{2}{3}", "0.6667"),
    ("1.4142", r"\sqrt{2}"), ("3.1416", r"\pi"), (r"(\sqrt{3}+1)(\sqrt{3}-1)", "2"), ("10^{20}+1-10^{20}", "1"),
    (r"(\sqrt{2}^2-2)10^{20}", "0"), ("(1+i)^2", "2i"), ("i^2", "-1"), (r"\frac{x^2-1}{x-1}", "x+1"),
    (r"\sqrt{x^2}", "x"), (r"\sqrt[3]{x^3}", "x"), ("x^{1/2}x^{1/2}", "x"), ("(x^2)^{1/2}", "x"),
    ("2^{2010}", "2^{2010}"), ("0", "-0"), (r"\frac{1}{3}", "0.33333333333333333"), ("1+10^{-30}", "1"),
]


@pytest.mark.parametrize("pred, gold", EQUAL, ids=lambda s: s[:30])
def test_equal_answers_are_never_called_different(pred, gold):
    p, g = normalize_answer(pred), normalize_answer(gold)
    assert not clearly_different(p, g) and not clearly_different(g, p)


DIFFERENT = [
    ("5", "4x(8x^2-x+5)"), ("i", r"\frac{9}{7}"), (r"2\sqrt{3}", r"3\sqrt{2}"), ("x^2+1", "(x+1)^2"),
    (r"\frac{x+1}{x-1}", r"\frac{x-1}{x+1}"), ("4+6i", "4-6i"), ("0.87", r"\frac{\sqrt{3}}{2}"), ("A", r"\frac{1}{2}"),
    (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5}"), ("x^3", "3x"), ("-5", "5"), ("0", "10^{-6}"),
    ("(x+y+z)^{300}", "(x+y+z)^{299}(x+y+1)"),  # sympy overruns its deadline on this one
]


@pytest.mark.parametrize("pred, gold", DIFFERENT, ids=lambda s: s[:30])
def test_plainly_different_answers_are_called_different(pred, gold):
    assert clearly_different(pred, gold) and clearly_different(gold, pred)


def test_near_answers_are_left_to_sympy():
    # within the grader's tolerance or close to it: only sympy may decide
    for p, g in [("0.333", r"\frac13"), ("3.14", r"\pi"), ("1.0001", "1"), ("10^{-30}", "0"), ("0.3333x", r"\frac{x}{3}")]:
        assert not clearly_different(p, g), (p, g)


def test_both_readings_of_mixed_numbers_and_base_subscripts_must_differ():
    # latex2sympy reads 3\frac{3}{8} as 27/8 and 1200_7 as 1200; a reader may
    # take 9/8 and 441: neither reading may be called different
    for p, g in [(r"\frac{27}{8}", r"3\frac{3}{8}"), (r"\frac{9}{8}", r"3\frac{3}{8}"),
                 ("1200", "1200_7"), ("441", "1200_7"), ("26", "11010_2"), ("5", "2(3)"), ("6", "2(3)")]:
        assert not clearly_different(p, g) and not clearly_different(g, p), (p, g)
    for p, g in [(r"8-2\pi", r"3\frac{3}{8}"), ("1155", "1200_7"), ("14", "11010_2"), ("7", "2(3)")]:
        assert clearly_different(p, g) and clearly_different(g, p), (p, g)


def test_symbols_get_the_same_value_on_both_sides_and_case_folds():
    assert not clearly_different("x+y", "y+x")
    assert not clearly_different("A+b", "B+a")  # latex2sympy lowercases symbols
    assert clearly_different("x", "y")


# -------------------------------------------------- random expressions

_LETTERS = list("abcdfghijkmnpqrstuvwxyzABCMR")


def _atom(r: random.Random, depth: int) -> str:
    k = r.random()
    if k < 0.3:
        return str(r.choice([0, 1, 2, 3, 5, 7, 10, 12, 25, 2.5, 0.5]))
    if k < 0.55:
        return r.choice(_LETTERS)
    if k < 0.6 or depth <= 0:
        return r"\pi"
    if k < 0.7:
        return r"\frac{%s}{%s}" % (_expr(r, depth - 1), _expr(r, depth - 1))
    if k < 0.8:
        return r"\sqrt{%s}" % _expr(r, depth - 1)
    if k < 0.83:
        return r"\sqrt[%s]{%s}" % (r.choice("34n"), _expr(r, depth - 1))
    return "(%s)" % _expr(r, depth - 1) if k < 0.93 else "[%s]" % _expr(r, depth - 1)


def _chain(r: random.Random, depth: int) -> str:
    def power() -> str:
        a = _atom(r, depth)
        if r.random() < 0.25:
            exp = r.choice(["2", "3", "{-1}", "{1/2}", "x", r"\pi", "{0}", None])
            a += "^" + (exp or "{%s}" % _expr(r, max(depth - 1, 0)))
        return a
    return r.choice(["", " "]).join(power() for _ in range(r.choice([1, 1, 2, 2, 3])))


def _expr(r: random.Random, depth: int) -> str:
    out = r.choice(["", "", "-"]) + _chain(r, depth)
    for _ in range(r.choice([0, 1, 1, 2, 3])):
        out += r.choice(["+", "-", r"\cdot ", r"\times ", "*", "/", "+-"]) + _chain(r, depth)
    return out


def test_random_expressions_read_as_latex2sympy_reads_them():
    r = random.Random(20240611)
    checked = 0
    for _ in range(600):
        s = normalize_answer(_expr(r, r.choice([1, 2])))
        parsed = parse(s)
        if parsed is None:
            continue
        try:
            expr = l2s.latex2sympy(s, normalization_config=_CONFIG)
        except Exception:  # noqa: BLE001 - unparsable for sympy: the grader's worker says "different"
            continue
        for point in POINTS:
            if any(evaluate(parsed, point, r) is None for r in range(parsed.readings)):
                continue
            true, mine = _closest_reading(parsed, s, point)
            assert abs(mine.value - true) <= max(mine.error, 1e-300), (s, str(expr), mine, true)
            checked += 1
    assert checked > 200  # the generator must keep producing expressions the parser accepts


# --------------------------------------------- against the grader's sympy worker

def test_sympy_worker_agrees_wherever_it_fires():
    from evalkit.benchmarks.math import grader as math_grader

    rng = random.Random(7)
    atoms = sorted({normalize_answer(p[k]) for p in PAIRS for k in ("pred", "gold")})
    atoms = [a for a in atoms if parse(a) is not None]
    pairs = [tuple(rng.sample(atoms, 2)) for _ in range(60)]
    fired = [(p, g) for p, g in pairs if clearly_different(p, g)]
    assert len(fired) > 30
    far = math_grader.time.monotonic() + 120
    assert [(p, g) for p, g in fired if math_grader._WORKER.compare(p, g, far) != "different"] == []

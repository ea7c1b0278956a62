"""Compare a gold answer with a predicted one (asymmetric: keyword-only ``gold=``/``pred=``).

Order: a fast path on plain numbers with ``fractions.Fraction`` and no SymPy at all (most
answers), then exact text, then the parser and a structural / symbolic / numeric comparison.

Policies (what a careful human grader says):
- Integers and fractions compare exactly: 1000001 is not 1000000, 0.5 is 1/2.
- Two decimals compare exactly by value (3.210 = 3.21). A decimal written with at least
  6 places matches an exact non-integer value (1/3, sqrt 2, pi) when it is that value
  correctly rounded or truncated to those places (0.3333333 and 0.142857 match 1/3 and
  1/7; 0.142858 does not); fewer places never do (0.333 is not 1/3, 3.14 is not pi).
- Percent: when the gold is a percentage (``50\\%``), the prediction must state the same
  number (``50`` or ``50\\%``); ``0.5`` is rejected. When the gold is not a percentage,
  ``50\\%`` matches gold ``50`` and gold ``0.5``.
- ``x = 5`` matches gold ``5``; gold ``x = 5`` matches ``5``. Two equations match when they
  have the same left/right sides or proportional ``lhs - rhs`` (``y = 2x+3`` = ``2x - y + 3 = 0``).
- Tuples are ordered; sets, unions and bare lists ("enter all solutions") are unordered;
  intervals must agree on open/closed ends; matrices elementwise.
- A gold in another base (``204_5``) matches the same digits with or without the base
  subscript (``204``), never its decimal value (``54``).
- When either side cannot be parsed, the normalized strings must be equal (ignoring case,
  spaces and surrounding parentheses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from verigen.verify.math.normalize import Normalized, normalize
from verigen.verify.math.values import Parsed, ParseError, TooLarge

MIN_TOLERANT_PLACES = 6

_INT_RE = re.compile(r"[-+]?\d+")
_DEC_RE = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)")
_FRAC_RE = re.compile(r"([-+]?)(?:(\d+)\s*/\s*(\d+)|\\frac\{(\d+)\}\{(\d+)\})")
_FAST_MAX_CHARS = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """The comparison's answer and why (``reason`` goes into the verdict detail)."""

    equal: bool
    reason: str


@dataclass(frozen=True, slots=True)
class _Num:
    value: Fraction
    places: int  # decimal places when written as a decimal, else -1


def _plain_number(text: str) -> _Num | None:
    """A plain integer, decimal or fraction as an exact ``Fraction`` (no SymPy)."""
    text = text.replace(" ", "")
    if len(text) > _FAST_MAX_CHARS:
        return None
    if _INT_RE.fullmatch(text):
        return _Num(Fraction(int(text)), -1)
    if _DEC_RE.fullmatch(text):
        return _Num(Fraction(text), len(text.partition(".")[2]))
    match = _FRAC_RE.fullmatch(text)
    if match is not None:
        num, den = match.group(2) or match.group(4), match.group(3) or match.group(5)
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return _Num(-value if match.group(1) == "-" else value, -1)
    return None


def decimal_matches(*, decimal: Fraction, places: int, exact: float | Fraction) -> bool:
    """The decimal-vs-exact policy (see the module docstring)."""
    if places < MIN_TOLERANT_PLACES:
        return False
    exact = Fraction(exact)
    unit = Fraction(1, 10**places)
    if abs(decimal - exact) <= unit / 2:
        return True  # correctly rounded
    # Truncated: same sign, and the exact value lies in [|d|, |d| + unit).
    return (decimal >= 0) == (exact >= 0) and 0 <= abs(exact) - abs(decimal) < unit


def numbers_equal(*, gold: _Num, pred: _Num) -> bool:
    """Exact equality, or the decimal policy when exactly one side is a decimal."""
    if gold.value == pred.value:
        return True
    if (gold.places >= 0) == (pred.places >= 0):
        return False
    dec, exact = (gold, pred) if gold.places >= 0 else (pred, gold)
    if exact.value.denominator == 1:
        return False
    return decimal_matches(decimal=dec.value, places=dec.places, exact=exact.value)


def _percent_candidates(gold: Normalized, pred: Normalized, value: Fraction) -> list[Fraction]:
    """The values a prediction may stand for under the percent policy."""
    if pred.percent and not gold.percent:
        return [value, value / 100]
    return [value]


def _fast(gold: Normalized, pred: Normalized) -> Judgement | None:
    g_digits, p_digits = gold.text.lstrip("+"), pred.text.lstrip("+")
    if g_digits.isdigit() and p_digits.isdigit() and not pred.percent:
        # Whole numbers of any length compare as digit strings: exact and O(n).
        same = g_digits.lstrip("0") == p_digits.lstrip("0")
        return Judgement(equal=same, reason="integer" if same else "different integer")
    g, p = _plain_number(gold.text), _plain_number(pred.text)
    if g is None or p is None:
        return None
    for value in _percent_candidates(gold, pred, p.value):
        if numbers_equal(gold=g, pred=_Num(value, p.places)):
            return Judgement(equal=True, reason="number")
    return Judgement(equal=False, reason="different number")


def _loose(text: str) -> str:
    text = re.sub(r"\s+|\\text|\\mathrm|\\textbf|[{}]", "", text).casefold()
    if len(text) > 2 and text[0] + text[-1] == "()":
        text = text[1:-1]  # "(B)" is the choice "B"
    return text


def judge(*, gold: str, pred: str) -> Judgement:
    """Compare ``pred`` with ``gold``; never raises on odd model text (only on our bugs)."""
    g_norm, p_norm = normalize(gold), normalize(pred)
    if not p_norm.text:
        return Judgement(equal=False, reason="empty answer")
    fast = _fast(g_norm, p_norm)
    if fast is not None:
        return fast
    if re.sub(r"\s+", "", g_norm.text) == re.sub(r"\s+", "", p_norm.text):
        return Judgement(equal=True, reason="same text")
    from verigen.verify.math.parse import parse_math

    try:
        g_parsed = parse_math(g_norm.text)
        p_parsed = parse_math(p_norm.text)
    except ParseError as exc:
        same = _loose(g_norm.text) == _loose(p_norm.text)
        why = "too large" if isinstance(exc, TooLarge) else "unparseable"
        return Judgement(equal=same, reason="same text" if same else f"{why}: {exc}")
    return _compare_parsed(g_norm, p_norm, g_parsed, p_parsed)


def _compare_parsed(g_norm: Normalized, p_norm: Normalized, gold: Parsed, pred: Parsed) -> Judgement:
    from verigen.verify.math.structures import values_equal

    if values_equal(gold=gold.value, pred=pred.value, gold_places=gold.decimal_places,
                    pred_places=pred.decimal_places):
        return Judgement(equal=True, reason="equivalent")
    if p_norm.percent and not g_norm.percent:
        import sympy

        if isinstance(pred.value, sympy.Expr) and values_equal(
            gold=gold.value, pred=pred.value / 100, gold_places=gold.decimal_places,
            pred_places=pred.decimal_places,
        ):
            return Judgement(equal=True, reason="equivalent (percent)")
    return Judgement(equal=False, reason="not equivalent")


def compare(*, gold: str, pred: str) -> bool:
    """True when the answer ``pred`` is equivalent to the gold answer ``gold``."""
    return judge(gold=gold, pred=pred).equal

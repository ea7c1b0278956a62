"""Grade a predicted answer against a gold one (asymmetric: keyword-only ``gold=``/``pred=``).

Order: a fast path on plain numbers with ``fractions.Fraction`` and no SymPy at all (most
answers), then exact text, then the parser and a structural / symbolic / numeric
comparison; labelled answers are compared by their values as well.

Policies (what a careful human grader says):
- Integers and fractions compare exactly: 1000001 is not 1000000, 0.5 is 1/2.
- Two decimals compare exactly by value (3.210 = 3.21). A decimal written with at least
  6 places matches an exact non-integer value (1/3, sqrt 2, pi) when it is that value
  correctly rounded or truncated to those places (0.3333333 and 0.142857 match 1/3 and
  1/7; 0.142858 does not); fewer places never do (0.333 is not 1/3, 3.14 is not pi).
  Two exact values are equal only when SymPy proves it: numeric closeness is no proof.
- A decimal comma is read as such only in a prediction against a decimal gold, and only
  where it cannot be a thousands separator (``1000,99``, ``2,74``; never ``1,000``).
- Percent: when the gold is a percentage (``50\\%``), the prediction must state the same
  number (``50`` or ``50\\%``); ``0.5`` is rejected. When the gold is not a percentage,
  ``50\\%`` matches gold ``50`` and gold ``0.5``.
- Labels: ``x = 5`` matches ``5`` and the other way round; ``(p,q)=(3,2)`` matches
  ``(3,2)``; ``x=1, y=2, z=3`` matches ``1, 2, 3`` in that order; equations whose left
  side is not a name (``2x - y + 3 = 0``) are equations. Two equations match when they
  have the same sides or proportional ``lhs - rhs``.
- Tuples are ordered; sets, unions and bare lists ("enter all solutions") are unordered;
  intervals must agree on open/closed ends; an inequality or a chain (``-2 \\le x \\le 7``)
  is the set it describes; matrices elementwise.
- A gold in another base (``204_5``) matches the same digits with or without the base
  subscript (``204``), never its decimal value (``54``).
- When either side cannot be parsed, the normalized strings must be equal (ignoring case,
  spaces, ``\\text`` and surrounding parentheses): text answers, names, choice letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verigen.verify.math._labels import Delabelled, delabel, split_top
from verigen.verify.math._numbers import Num, comma_decimal, numbers_equal, plain_number
from verigen.verify.math.normalize import Normalized, approximate_side, normalize
from verigen.verify.math.values import Parsed, ParseError, TooLarge

# "(B)", "(B) 12", "B.", "B": a choice letter; "B = 5" is not one.
_CHOICE_RE = re.compile(r"\(([A-J])\)(?:\s.*)?|([A-J])(?:[.):](?:\s.*)?)?", re.DOTALL)
_MAX_PARTS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """The comparison's answer and why (``reason`` goes into the verdict detail)."""

    equal: bool
    reason: str
    canonical: str | None = None  # the prediction's parsed value, printed, when it was parsed


def _percent_candidates(gold: Normalized, pred: Normalized, value: Num) -> list[Num]:
    """The values a prediction may stand for under the percent policy."""
    if pred.percent and not gold.percent:
        return [value, Num(value.value / 100, value.places)]
    return [value]


def _fast(gold: Normalized, pred: Normalized) -> Judgement | None:
    g_digits, p_digits = gold.text.lstrip("+"), pred.text.lstrip("+")
    if g_digits.isdigit() and p_digits.isdigit() and not pred.percent:
        # Whole numbers of any length compare as digit strings: exact and O(n).
        same = g_digits.lstrip("0") == p_digits.lstrip("0")
        return Judgement(equal=same, reason="integer" if same else "different integer")
    g = plain_number(gold.text)
    p = plain_number(pred.text)
    if g is not None and p is None and g.places > 0:
        decimal = comma_decimal(pred.text)
        p = plain_number(decimal) if decimal is not None else None
    if g is None or p is None:
        return None
    for value in _percent_candidates(gold, pred, p):
        if numbers_equal(gold=g, pred=value):
            return Judgement(equal=True, reason="number")
    return Judgement(equal=False, reason="different number")


def _loose(text: str) -> str:
    text = re.sub(r"\s+|\\text|\\mathrm|\\textbf|[{}]", "", text).casefold()
    if len(text) > 2 and text[0] + text[-1] == "()":
        text = text[1:-1]  # "(B)" is the choice "B"
    return text


def _choice(gold: str, pred: str) -> bool | None:
    """A multiple-choice letter gold (``B``) against ``(B)``, ``B.``, ``(B) 12``."""
    if not re.fullmatch(r"\(?[A-J]\)?", gold.strip()):
        return None
    match = _CHOICE_RE.fullmatch(pred.strip())
    if match is None:
        return None
    return (match.group(1) or match.group(2)) == gold.strip().strip("()")


def _core(g_norm: Normalized, p_norm: Normalized) -> Judgement:
    """One comparison of two normalized answers, without label handling."""
    if not p_norm.text:
        return Judgement(equal=False, reason="empty answer")
    fast = _fast(g_norm, p_norm)
    if fast is not None:
        return fast
    if re.sub(r"\s+", "", g_norm.text) == re.sub(r"\s+", "", p_norm.text):
        return Judgement(equal=True, reason="same text")
    choice = _choice(g_norm.text, p_norm.text)
    if choice is not None:
        return Judgement(equal=choice, reason="same choice" if choice else "different choice")
    from verigen.verify.math.parse import parse_math

    try:
        g_parsed = parse_math(g_norm.text)
        p_parsed = parse_math(p_norm.text)
    except ParseError as exc:
        same = _loose(g_norm.text) == _loose(p_norm.text)
        why = "too large" if isinstance(exc, TooLarge) else "unparseable"
        return Judgement(equal=same, reason="same text" if same else f"{why}: {exc}")
    judged = _compare_parsed(g_norm, p_norm, g_parsed, p_parsed)
    key = str(p_parsed.value) + ("%" if p_norm.percent else "")
    return Judgement(equal=judged.equal, reason=judged.reason, canonical=key)


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


def _items(text: str, labelled: Delabelled | None) -> tuple[list[str], bool, tuple[str, ...]]:
    """(values, ordered, labels) of one side for the labelled comparison."""
    if labelled is not None:
        distinct = len(set(labelled.labels)) == len(labelled.labels)
        return list(labelled.items), labelled.ordered, labelled.labels if distinct else ()
    return split_top(text, ",;"), False, ()


def _explode(items: list[str], ordered: bool) -> tuple[list[str], bool]:
    """A written-out tuple ``(1, 2, 3)`` as its parts, in order."""
    if len(items) == 1 and re.fullmatch(r"\(.*\)", items[0]):
        inner = split_top(items[0][1:-1], ",")
        if len(inner) > 1:
            return inner, True
    return items, ordered


def _labelled(g_norm: Normalized, p_norm: Normalized) -> Judgement | None:
    """Compare the values of labelled answers; None when neither side has labels."""
    g_lab, p_lab = delabel(g_norm.text), delabel(p_norm.text)
    if g_lab is None and p_lab is None:
        return None
    g_items, g_ordered, g_labels = _items(g_norm.text, g_lab)
    p_items, p_ordered, p_labels = _items(p_norm.text, p_lab)

    def same(g: str, p: str) -> bool:
        return _core(Normalized(text=g, percent=g_norm.percent), Normalized(text=p, percent=p_norm.percent)).equal

    if len(g_items) == 1 and len(p_items) == 1:
        equal = same(g_items[0], p_items[0])
    else:
        if len(p_items) == 1:
            p_items, p_ordered = _explode(p_items, p_ordered)
        if len(g_items) == 1:
            g_items, g_ordered = _explode(g_items, g_ordered)
        if len(g_items) > _MAX_PARTS or len(g_items) != len(p_items):
            return Judgement(equal=False, reason="different number of parts")
        if g_labels and p_labels and sorted(g_labels) == sorted(p_labels):
            by_label = dict(zip(p_labels, p_items, strict=True))
            equal = all(same(g, by_label[label]) for label, g in zip(g_labels, g_items, strict=True))
        elif g_ordered or p_ordered:
            equal = all(same(g, p) for g, p in zip(g_items, p_items, strict=True))
        else:
            equal = same(", ".join(g_items), ", ".join(p_items))
    return Judgement(equal=equal, reason="equivalent (labelled)" if equal else "not equivalent (labelled)")


def _rounds_to(exact: str, rounded: Num) -> bool:
    """The exact side of ``exact \\approx rounded`` is within half a unit of the last place."""
    from verigen.verify.math.parse import parse_math

    try:
        value: Any = parse_math(exact).value
        number = complex(value.evalf(30))
    except (ParseError, AttributeError, TypeError, ValueError, ArithmeticError, RecursionError):
        return False
    unit = 10.0 ** -rounded.places
    return number.imag == 0 and abs(number.real - float(rounded.value)) <= unit / 2 + 1e-12


def judge(*, gold: str, pred: str) -> Judgement:
    """Compare ``pred`` with ``gold``; never raises on odd model text (only on our bugs)."""
    g_norm, p_norm = normalize(gold), normalize(pred)
    result = _core(g_norm, p_norm)
    if result.equal or not p_norm.text:
        return result
    rounded = approximate_side(pred)
    gold_number = plain_number(g_norm.text)
    if rounded is not None and gold_number is not None and gold_number.places > 0:
        # A decimal gold asks for a rounded value: "\frac{70}{9} \approx 7.78" states 7.78.
        approx = _core(g_norm, normalize(rounded))
        if approx.equal and _rounds_to(p_norm.text, gold_number):
            return Judgement(equal=True, reason="equivalent (the rounded value)", canonical=approx.canonical)
    labelled = _labelled(g_norm, p_norm)
    return labelled if labelled is not None and labelled.equal else result


def compare(*, gold: str, pred: str) -> bool:
    """True when the answer ``pred`` is equivalent to the gold answer ``gold``."""
    return judge(gold=gold, pred=pred).equal

"""Structural and symbolic equality of parsed answers (imports SymPy; used past the fast path)."""

from __future__ import annotations

from fractions import Fraction
from typing import cast

import sympy as sp

from verigen.verify.math.values import (
    BareList,
    BaseNumber,
    Bracketed,
    MatrixValue,
    Relation,
    SetValue,
    UnionValue,
    Value,
)

_PM = sp.Symbol("PM__")
_PREC = 40  # digits for numeric checks
_REL_TOL = sp.Float("1e-25", _PREC)
# Deterministic sample points for expressions with free symbols: irrational-looking values
# so that accidental agreement (x^2 vs x at 1) cannot happen.
_POINTS = (0.5772156649, 1.3247179572, -0.7548776662, 2.2360679775)
_MAX_OPS = 300  # SymPy simplification only on expressions of this size or smaller
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}


def _expand_pm(value: Value) -> Value:
    """``a \\pm b`` becomes the set ``{a + b, a - b}``; inside lists and sets it is flattened."""
    if isinstance(value, sp.Expr) and _PM in value.free_symbols:
        return SetValue(items=(value.subs(_PM, 1), value.subs(_PM, -1)))
    if isinstance(value, (SetValue, BareList)):
        items: list[Value] = []
        for item in value.items:
            expanded = _expand_pm(item)
            items.extend(expanded.items if isinstance(expanded, SetValue) else (expanded,))
        return type(value)(items=tuple(items))
    return value


def _strip_var(value: Value) -> Value:
    """``x = 5`` -> ``5`` (the prediction names the variable the gold leaves out)."""
    if isinstance(value, Relation) and value.op == "=" and isinstance(value.lhs, sp.Symbol):
        return value.rhs
    if isinstance(value, (SetValue, BareList)):
        return type(value)(items=tuple(_strip_var(v) for v in value.items))
    return value


def values_equal(*, gold: Value, pred: Value, gold_places: int, pred_places: int) -> bool:
    """Structural comparison; scalars go to ``scalars_equal``."""
    gold, pred = _expand_pm(gold), _expand_pm(pred)
    if not _has_relation(gold):
        pred = _strip_var(pred)
    elif isinstance(gold, Relation) and not isinstance(pred, Relation):
        # Gold ``x = 5`` and prediction ``5``: accepted when the gold's right side is a number.
        if isinstance(gold.lhs, sp.Symbol) and isinstance(gold.rhs, sp.Expr) and gold.rhs.is_number:
            gold = gold.rhs
    return _eq(gold, pred, (gold_places, pred_places))


def _has_relation(value: Value) -> bool:
    if isinstance(value, Relation):
        return True
    if isinstance(value, (SetValue, BareList)):
        return any(_has_relation(v) for v in value.items)
    return False


def _eq(gold: Value, pred: Value, places: tuple[int, int]) -> bool:
    if isinstance(gold, sp.Expr) and isinstance(pred, sp.Expr):
        return scalars_equal(gold=gold, pred=pred, gold_places=places[0], pred_places=places[1])
    if isinstance(gold, (SetValue, BareList)) and isinstance(pred, (SetValue, BareList)):
        return _unordered(gold.items, pred.items, places)
    if isinstance(gold, UnionValue) and isinstance(pred, UnionValue):
        return _unordered(gold.parts, pred.parts, places)
    if isinstance(gold, Bracketed) and isinstance(pred, Bracketed):
        return (
            (gold.left, gold.right) == (pred.left, pred.right)
            and len(gold.items) == len(pred.items)
            and all(_eq(g, p, places) for g, p in zip(gold.items, pred.items))
        )
    if isinstance(gold, MatrixValue):
        return _matrix_eq(gold, pred, places)
    if isinstance(gold, Relation) and isinstance(pred, Relation):
        return _relation_eq(gold, pred, places)
    if isinstance(gold, BaseNumber):
        if isinstance(pred, BaseNumber):
            return gold.digits.lstrip("0") == pred.digits.lstrip("0") and gold.base == pred.base
        return isinstance(pred, sp.Integer) and str(pred) == gold.digits.lstrip("0")
    return False


def _unordered(gold: tuple[Value, ...], pred: tuple[Value, ...], places: tuple[int, int]) -> bool:
    """Same elements, any order, duplicates ignored."""
    return all(any(_eq(g, p, places) for p in pred) for g in gold) and all(
        any(_eq(g, p, places) for g in gold) for p in pred
    )


def _matrix_eq(gold: MatrixValue, pred: Value, places: tuple[int, int]) -> bool:
    if isinstance(pred, Bracketed) and pred.left + pred.right == "()" and all(len(r) == 1 for r in gold.rows):
        # A column vector written as a tuple (1, 2, 3).
        pred = MatrixValue(rows=tuple((item,) for item in pred.items))
    if not isinstance(pred, MatrixValue) or len(gold.rows) != len(pred.rows):
        return False
    return all(
        len(gr) == len(pr) and all(_eq(g, p, places) for g, p in zip(gr, pr))
        for gr, pr in zip(gold.rows, pred.rows)
    )


def _relation_eq(gold: Relation, pred: Relation, places: tuple[int, int]) -> bool:
    if pred.op == _MIRROR[gold.op] and gold.op != pred.op:
        pred = Relation(op=gold.op, lhs=pred.rhs, rhs=pred.lhs)
    if gold.op != pred.op:
        return False
    if _eq(gold.lhs, pred.lhs, places) and _eq(gold.rhs, pred.rhs, places):
        return True
    if gold.op == "=" and _eq(gold.lhs, pred.rhs, places) and _eq(gold.rhs, pred.lhs, places):
        return True
    if gold.op != "=":
        return False
    if not all(isinstance(side, sp.Expr) for side in (gold.lhs, gold.rhs, pred.lhs, pred.rhs)):
        return False  # tuples, sets, matrices on a side: only the structural checks above apply
    # Same solution set for linear-style equations: lhs - rhs proportional by a constant.
    g_diff, p_diff = cast(sp.Expr, gold.lhs) - gold.rhs, cast(sp.Expr, pred.lhs) - pred.rhs
    if g_diff.free_symbols != p_diff.free_symbols or not g_diff.free_symbols or p_diff == 0:
        return False
    if sp.count_ops(g_diff) + sp.count_ops(p_diff) > _MAX_OPS:
        return False
    ratio = sp.cancel(g_diff / p_diff)
    return bool(ratio.is_number and ratio != 0 and ratio.is_finite)


def _as_fraction(value: sp.Rational) -> Fraction:
    return Fraction(int(value.p), int(value.q))


def scalars_equal(*, gold: sp.Expr, pred: sp.Expr, gold_places: int, pred_places: int) -> bool:
    """Exact, then rational, then symbolic/numeric equality of two SymPy scalars."""
    if gold == pred:
        return True
    if gold.free_symbols != pred.free_symbols:
        return False
    if gold.is_Rational and pred.is_Rational:
        return _rationals_equal(gold, pred, gold_places, pred_places)
    if gold.free_symbols:
        return _symbolic_equal(gold, pred)
    return _constants_equal(gold, pred, gold_places, pred_places)


def _rationals_equal(gold: sp.Rational, pred: sp.Rational, gold_places: int, pred_places: int) -> bool:
    from verigen.verify.math.compare import decimal_matches

    if (gold_places > 0) == (pred_places > 0):
        return False  # both exact or both decimals: equality already failed
    dec, places, exact = (gold, gold_places, pred) if gold_places > 0 else (pred, pred_places, gold)
    if exact.is_Integer:
        return False
    return decimal_matches(decimal=_as_fraction(dec), places=places, exact=_as_fraction(exact))


def _numeric(value: sp.Expr) -> sp.Expr | None:
    try:
        result = value.evalf(_PREC)
    except (ValueError, TypeError, ArithmeticError):
        return None
    if result.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or not result.is_number:
        return None
    return result


def _clearly_different(gold: sp.Expr, pred: sp.Expr) -> bool:
    """A cheap 15-digit look: values this far apart fail every later test too."""
    g, p = _numeric_fast(gold), _numeric_fast(pred)
    if g is None or p is None:
        return False
    return abs(g - p) > 1e-3 * max(1.0, abs(g))


def _numeric_fast(value: sp.Expr) -> complex | None:
    try:
        result = complex(value.evalf(15))
    except (ValueError, TypeError, ArithmeticError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def _constants_equal(gold: sp.Expr, pred: sp.Expr, gold_places: int, pred_places: int) -> bool:
    if _clearly_different(gold, pred):
        return False
    g, p = _numeric(gold), _numeric(pred)
    if g is None or p is None:
        return False
    diff = abs(sp.N(g - p, _PREC))
    if bool(diff <= _REL_TOL * max(sp.Integer(1), abs(g))):
        return True  # equal to 40 digits (0.5\sqrt2 is exactly \sqrt2/2)
    if (pred_places > 0) == (gold_places > 0) or not (g.is_real and p.is_real):
        return False
    # A decimal against an exact irrational value: the rounding policy of compare.py.
    from verigen.verify.math.compare import decimal_matches

    dec, exact = (p, g) if pred_places > 0 else (g, p)
    return decimal_matches(decimal=_float_fraction(dec), places=max(gold_places, pred_places),
                           exact=_float_fraction(exact))


def _float_fraction(value: sp.Expr) -> Fraction:
    rational = sp.Rational(sp.Float(value, _PREC))
    return Fraction(int(rational.p), int(rational.q))


def _symbolic_equal(gold: sp.Expr, pred: sp.Expr) -> bool:
    """Equal at every sample point (numeric evidence), confirmed exactly when small."""
    symbols = sorted(gold.free_symbols, key=str)
    agreed = 0
    for shift, point in enumerate(_POINTS):
        subs = {s: sp.Float(point + 0.137 * k + 0.011 * shift, _PREC) for k, s in enumerate(symbols)}
        g_at, p_at = gold.subs(subs), pred.subs(subs)
        if _clearly_different(g_at, p_at):
            return False
        g, p = _numeric(g_at), _numeric(p_at)
        if g is None or p is None:
            continue
        if abs(sp.N(g - p, _PREC)) > _REL_TOL * max(sp.Integer(1), abs(g)) * 10**10:
            return False
        agreed += 1
    if agreed >= 3:
        return True
    if sp.count_ops(gold) + sp.count_ops(pred) > _MAX_OPS:
        return False
    return bool(sp.simplify(gold - pred) == 0)


__all__ = ["scalars_equal", "values_equal"]

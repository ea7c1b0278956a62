"""Structural equality of parsed answers (imports SymPy; used past the fast path).

Scalars go to ``_scalars.scalars_equal``; inequalities, chains and intervals that meet
are compared as the sets of reals they describe (``_sets``).
"""

from __future__ import annotations

from typing import cast

import sympy as sp

from verigen.verify.math._scalars import MAX_OPS, scalars_equal
from verigen.verify.math._sets import as_sets, has_inequality, sets_equal
from verigen.verify.math.values import (
    BareList,
    BaseNumber,
    Bracketed,
    Chain,
    Colon,
    MatrixValue,
    Relation,
    SetValue,
    UnionValue,
    Value,
)

_PM = sp.Symbol("PM__")
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
    places = (gold_places, pred_places)
    if isinstance(gold, BareList) and isinstance(pred, BareList) and not _has_relation(gold) and _named(pred):
        # x=1, y=2, z=3 names the positions of 1, 2, 3: compared in order.
        return len(gold.items) == len(pred.items) and all(
            _eq(g, _strip_var(p), places) for g, p in zip(gold.items, pred.items, strict=True))
    if not _has_relation(gold):
        pred = _strip_var(pred)
    elif isinstance(gold, Relation) and not isinstance(pred, Relation) and gold.op == "=":
        # Gold ``x = 5`` and prediction ``5``: accepted when the gold's right side is a number.
        if isinstance(gold.lhs, sp.Symbol) and isinstance(gold.rhs, sp.Expr) and gold.rhs.is_number:
            gold = gold.rhs
    if _eq(gold, pred, places):
        return True
    if has_inequality(gold) or has_inequality(pred):
        return _as_sets_equal(gold, pred, places)
    return False


def _named(value: BareList) -> bool:
    """Every item is ``name = value`` with a different name for each."""
    names = [v.lhs for v in value.items if isinstance(v, Relation) and v.op == "=" and isinstance(v.lhs, sp.Symbol)]
    return len(names) == len(value.items) > 1 and len(set(names)) == len(names)


def _has_relation(value: Value) -> bool:
    if isinstance(value, (Relation, Chain)):
        return True
    if isinstance(value, (SetValue, BareList)):
        return any(_has_relation(v) for v in value.items)
    return False


def _as_sets_equal(gold: Value, pred: Value, places: tuple[int, int]) -> bool:
    """Both sides as sets of reals; the same variable when both are relations."""
    if isinstance(gold, (Relation, Chain)) and isinstance(pred, (Relation, Chain)):
        if _free(gold) != _free(pred):
            return False
    g_sets, p_sets = as_sets(gold), as_sets(pred)

    def scalar_eq(g: sp.Expr, p: sp.Expr) -> bool:
        return scalars_equal(gold=g, pred=p, gold_places=places[0], pred_places=places[1])

    return any(sets_equal(g, p, scalar_eq) for g in g_sets for p in p_sets)


def _free(value: Relation | Chain) -> set[sp.Symbol]:
    sides = (value.lhs, value.rhs) if isinstance(value, Relation) else value.terms
    found: set[sp.Symbol] = set()
    for side in sides:
        if isinstance(side, sp.Expr):
            found |= side.free_symbols
    return found


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
            and all(_eq(g, p, places) for g, p in zip(gold.items, pred.items, strict=True))
        )
    if isinstance(gold, MatrixValue):
        return _matrix_eq(gold, pred, places)
    if isinstance(gold, Relation) and isinstance(pred, Relation):
        return _relation_eq(gold, pred, places)
    if isinstance(gold, Chain) and isinstance(pred, Chain):
        return gold.ops == pred.ops and len(gold.terms) == len(pred.terms) and all(
            _eq(g, p, places) for g, p in zip(gold.terms, pred.terms, strict=True))
    if isinstance(gold, Colon) and isinstance(pred, Colon):
        return _colon_eq(gold, pred, places)
    if isinstance(gold, BaseNumber):
        if isinstance(pred, BaseNumber):
            return gold.digits.lstrip("0") == pred.digits.lstrip("0") and gold.base == pred.base
        return isinstance(pred, sp.Integer) and str(pred) == gold.digits.lstrip("0")
    return False


def _colon_eq(gold: Colon, pred: Colon, places: tuple[int, int]) -> bool:
    """Same parts; a clock time may add or drop zero seconds (``20:34`` = ``20:34:00``)."""
    g, p = list(gold.items), list(pred.items)
    if len(g) == len(p) + 1 and g[-1] == 0:
        g = g[:-1]
    elif len(p) == len(g) + 1 and p[-1] == 0:
        p = p[:-1]
    return len(g) == len(p) and all(_eq(a, b, places) for a, b in zip(g, p, strict=True))


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
        len(gr) == len(pr) and all(_eq(g, p, places) for g, p in zip(gr, pr, strict=True))
        for gr, pr in zip(gold.rows, pred.rows, strict=True)
    )


def _relation_eq(gold: Relation, pred: Relation, places: tuple[int, int]) -> bool:
    if pred.op == _MIRROR[gold.op] and gold.op != pred.op:
        pred = Relation(op=gold.op, lhs=pred.rhs, rhs=pred.lhs)
    if gold.op != pred.op:
        return False
    if _eq(gold.lhs, pred.lhs, places) and _eq(gold.rhs, pred.rhs, places):
        return True
    if gold.op in ("=", "!=") and _eq(gold.lhs, pred.rhs, places) and _eq(gold.rhs, pred.lhs, places):
        return True
    if gold.op != "=":
        return False
    if not all(isinstance(side, sp.Expr) for side in (gold.lhs, gold.rhs, pred.lhs, pred.rhs)):
        return False  # tuples, sets, matrices on a side: only the structural checks above apply
    # Same solution set for linear-style equations: lhs - rhs proportional by a constant.
    g_diff, p_diff = cast(sp.Expr, gold.lhs) - gold.rhs, cast(sp.Expr, pred.lhs) - pred.rhs
    if g_diff.free_symbols != p_diff.free_symbols or not g_diff.free_symbols or p_diff == 0:
        return False
    if sp.count_ops(g_diff) + sp.count_ops(p_diff) > MAX_OPS:
        return False
    ratio = sp.cancel(g_diff / p_diff)
    return bool(ratio.is_number and ratio != 0 and ratio.is_finite)


__all__ = ["scalars_equal", "values_equal"]

"""Inequalities, chains and intervals as the sets of reals they describe (imports SymPy).

``-x > -1`` and ``x < 1`` are one set; ``-2 \\le x \\le 7`` is ``[-2, 7]``; ``0 < f(x) < 1``
is the range ``(0, 1)``; ``1 \\le |z| \\le 3/2`` is also the set of ``z`` it allows.
Solving is bounded: one free symbol, small expressions, and SymPy's ``solveset`` over
the reals (the caller runs in a killable worker with a time limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import sympy as sp

from verigen.verify.math.values import Bracketed, Chain, Relation, SetValue, UnionValue, Value

_MAX_OPS = 40
_OPS = {"<": sp.StrictLessThan, "<=": sp.LessThan, ">": sp.StrictGreaterThan, ">=": sp.GreaterThan,
        "!=": sp.Ne}
_INCREASING = {"<", "<="}
_DECREASING = {">", ">="}


def has_inequality(value: Value) -> bool:
    """A relation other than ``=``, or a chain."""
    return isinstance(value, Chain) or (isinstance(value, Relation) and value.op != "=")


def _solve(relation: sp.Basic, symbol: sp.Symbol) -> sp.Set | None:
    if sp.count_ops(relation) > _MAX_OPS:
        return None
    try:
        result = sp.solveset(relation, symbol, domain=sp.S.Reals)
    except (NotImplementedError, ValueError, TypeError, ArithmeticError):
        return None
    return result if isinstance(result, (sp.Interval, sp.Union, sp.FiniteSet, sp.Complement)) or (
        result == sp.S.EmptySet or result == sp.S.Reals
    ) else None


def _single_symbol(*exprs: sp.Expr) -> sp.Symbol | None:
    symbols: set[sp.Symbol] = set()
    for expr in exprs:
        symbols |= expr.free_symbols
    return next(iter(symbols)) if len(symbols) == 1 else None


def _relation_sets(value: Relation) -> list[sp.Set]:
    if value.op not in _OPS or not isinstance(value.lhs, sp.Expr) or not isinstance(value.rhs, sp.Expr):
        return []
    symbol = _single_symbol(value.lhs, value.rhs)
    if symbol is None:
        return []
    solved = _solve(_OPS[value.op](value.lhs, value.rhs), symbol)
    return [solved] if solved is not None else []


def _chain_sets(value: Chain) -> list[sp.Set]:
    """The sets a chain ``a < E < b`` may mean: the values of ``E`` (a range) and, when
    ``E`` has one free symbol, the values of that symbol."""
    ops, terms = value.ops, value.terms
    if len(terms) != 3 or not all(isinstance(t, sp.Expr) for t in terms):
        return []
    if set(ops) <= _DECREASING:
        terms, ops = terms[::-1], tuple({">": "<", ">=": "<="}[o] for o in ops[::-1])
    if not set(ops) <= _INCREASING:
        return []
    low, middle, high = cast(tuple[sp.Expr, sp.Expr, sp.Expr], tuple(terms))
    if low.free_symbols or high.free_symbols:
        return []
    found: list[sp.Set] = [sp.Interval(low, high, ops[0] == "<", ops[1] == "<")]
    symbol = _single_symbol(middle)
    if symbol is not None and middle != symbol:
        left = _solve(_OPS[ops[0]](low, middle), symbol)
        right = _solve(_OPS[ops[1]](middle, high), symbol)
        if left is not None and right is not None:
            found.append(sp.Intersection(left, right))
    return found


def _interval(value: Bracketed) -> sp.Set | None:
    if len(value.items) != 2 or not all(isinstance(i, sp.Expr) and i.is_extended_real for i in value.items):
        return None
    low, high = cast(tuple[sp.Expr, sp.Expr], value.items)
    if not bool(low < high):
        return None
    return sp.Interval(low, high, value.left == "(", value.right == ")")


def as_sets(value: Value) -> list[sp.Set]:
    """Every set of reals ``value`` can stand for (empty when it is no such thing)."""
    if isinstance(value, Relation):
        return _relation_sets(value)
    if isinstance(value, Chain):
        return _chain_sets(value)
    if isinstance(value, Bracketed):
        interval = _interval(value)
        return [interval] if interval is not None else []
    if isinstance(value, UnionValue):
        parts = [as_sets(p) for p in value.parts]
        if not all(len(p) == 1 for p in parts):
            return []
        return [sp.Union(*(p[0] for p in parts))]
    if isinstance(value, SetValue) and all(isinstance(i, sp.Expr) and i.is_real for i in value.items):
        return [sp.FiniteSet(*value.items)]
    return []


def _start(piece: sp.Set) -> float:
    try:
        return float(sp.N(piece.inf))
    except (TypeError, ValueError):
        return float("nan")


def _pieces(value: sp.Set) -> list[sp.Set] | None:
    if isinstance(value, sp.Union):
        return sorted(value.args, key=_start)
    if isinstance(value, (sp.Interval, sp.FiniteSet)) or value in (sp.S.EmptySet, sp.S.Reals):
        return [value]
    return None


def sets_equal(gold: sp.Set, pred: sp.Set, scalar_eq: Callable[[sp.Expr, sp.Expr], bool]) -> bool:
    """Same set: structurally, or piece by piece with exactly equal endpoints."""
    if gold == pred:
        return True
    g_pieces, p_pieces = _pieces(gold), _pieces(pred)
    if g_pieces is None or p_pieces is None or len(g_pieces) != len(p_pieces):
        return False
    for g, p in zip(g_pieces, p_pieces, strict=True):
        if isinstance(g, sp.Interval) and isinstance(p, sp.Interval):
            if (g.left_open, g.right_open) != (p.left_open, p.right_open):
                return False
            if not (scalar_eq(g.start, p.start) and scalar_eq(g.end, p.end)):
                return False
        elif g != p:
            return False
    return True

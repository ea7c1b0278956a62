"""Equality of two SymPy scalars: exact, rational, symbolic, numeric (imports SymPy).

Exactness before tolerance: two exact constants are equal only when SymPy proves it
(``simplify`` to zero, or a minimal polynomial of the difference); agreeing to 40 digits
is no proof (``1`` against ``2^{1/2^{1000}}``). Numeric agreement decides only where
the policy says a decimal stands for a value. Expressions with free symbols are
compared at sampled points (probabilistic identity testing), and a constant difference
left after expansion (``x`` against ``x + 10^{-30}``) is never equal.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from verigen.verify.math._numbers import decimal_matches

PREC = 40  # digits for numeric checks
_REL_TOL = sp.Float("1e-25", PREC)
# Deterministic sample points for expressions with free symbols: irrational-looking values
# so that accidental agreement (x^2 vs x at 1) cannot happen.
_POINTS = (0.5772156649, 1.3247179572, -0.7548776662, 2.2360679775)
MAX_OPS = 300  # SymPy simplification only on expressions of this size or smaller
_MAX_PROOF_OPS = 60  # minimal polynomials only on differences this small
_MAX_ROOT_DEGREE = 64
_MAX_RATIONAL = 10**60
_X = sp.Symbol("x_mp__")


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
    if (gold_places > 0) == (pred_places > 0):
        return False  # both exact or both decimals: equality already failed
    dec, places, exact = (gold, gold_places, pred) if gold_places > 0 else (pred, pred_places, gold)
    if exact.is_Integer:
        return False
    return decimal_matches(decimal=_as_fraction(dec), places=places, exact=_as_fraction(exact))


def numeric(value: sp.Expr) -> sp.Expr | None:
    try:
        result = value.evalf(PREC)
    except (ValueError, TypeError, ArithmeticError):
        return None
    if result.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or not result.is_number:
        return None
    return result


def _numeric_fast(value: sp.Expr) -> complex | None:
    try:
        result = complex(value.evalf(15))
    except (ValueError, TypeError, ArithmeticError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def clearly_different(gold: sp.Expr, pred: sp.Expr) -> bool:
    """A cheap 15-digit look: values this far apart fail every later test too."""
    g, p = _numeric_fast(gold), _numeric_fast(pred)
    if g is None or p is None:
        return False
    return abs(g - p) > 1e-3 * max(1.0, abs(g))


def tame(value: sp.Expr) -> bool:
    """Small enough for ``simplify``: no root of huge degree (``2^{1/2^{1000}}``, whose
    simplification or minimal polynomial would explode) and no huge rational."""
    for atom in value.atoms(sp.Rational):
        if max(abs(int(atom.p)), int(atom.q)) > _MAX_RATIONAL:
            return False
    for power in value.atoms(sp.Pow):
        exponent = power.exp
        if isinstance(exponent, sp.Rational) and (int(exponent.q) > _MAX_ROOT_DEGREE or abs(int(exponent.p)) > 10**4):
            return False
    return bool(sp.count_ops(value) <= MAX_OPS)


def _algebraic_only(value: sp.Expr) -> bool:
    return all(isinstance(p.exp, sp.Rational) for p in value.atoms(sp.Pow))


def proven_equal(gold: sp.Expr, pred: sp.Expr) -> bool:
    """Whether SymPy can show that ``gold - pred`` is exactly zero."""
    diff = gold - pred
    if diff == 0:
        return True
    if not tame(diff):
        return False
    if sp.simplify(diff) == 0:
        return True
    if sp.count_ops(diff) <= _MAX_PROOF_OPS and diff.is_algebraic and _algebraic_only(diff):
        try:
            return bool(sp.minimal_polynomial(diff, _X) == _X)
        except (NotImplementedError, ValueError, TypeError, ArithmeticError):
            return False
    return False


def _constants_equal(gold: sp.Expr, pred: sp.Expr, gold_places: int, pred_places: int) -> bool:
    if clearly_different(gold, pred):
        return False
    g, p = numeric(gold), numeric(pred)
    if g is None or p is None:
        return False
    close = bool(abs(sp.N(g - p, PREC)) <= _REL_TOL * max(sp.Integer(1), abs(g)))
    if gold_places <= 0 and pred_places <= 0:
        return close and proven_equal(gold, pred)  # both exact: closeness is no proof
    if close:
        return True  # a decimal equal to 40 digits (0.5\sqrt2 against \sqrt2/2)
    if (pred_places > 0) == (gold_places > 0) or not (g.is_real and p.is_real):
        return False
    # A decimal against an exact irrational value: the rounding policy.
    dec, exact = (p, g) if pred_places > 0 else (g, p)
    return decimal_matches(decimal=_float_fraction(dec), places=max(gold_places, pred_places),
                           exact=_float_fraction(exact))


def _float_fraction(value: sp.Expr) -> Fraction:
    rational = sp.Rational(sp.Float(value, PREC))
    return Fraction(int(rational.p), int(rational.q))


def _symbolic_equal(gold: sp.Expr, pred: sp.Expr) -> bool:
    """Equal at every sample point (numeric evidence), confirmed exactly when small."""
    if sp.count_ops(gold) + sp.count_ops(pred) <= MAX_OPS:
        rest = sp.expand(gold - pred)
        if not rest.free_symbols and rest != 0:
            return False  # they differ by a constant, however small
    symbols = sorted(gold.free_symbols, key=str)
    agreed = 0
    for shift, point in enumerate(_POINTS):
        subs = {s: sp.Float(point + 0.137 * k + 0.011 * shift, PREC) for k, s in enumerate(symbols)}
        g_at, p_at = gold.subs(subs), pred.subs(subs)
        if clearly_different(g_at, p_at):
            return False
        g, p = numeric(g_at), numeric(p_at)
        if g is None or p is None:
            continue
        if abs(sp.N(g - p, PREC)) > _REL_TOL * max(sp.Integer(1), abs(g)) * 10**10:
            return False
        agreed += 1
    if agreed >= 3:
        return True
    if not tame(gold - pred):
        return False
    return bool(sp.simplify(gold - pred) == 0)

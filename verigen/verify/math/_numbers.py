"""Plain numbers as exact ``Fraction``s, and the decimal-vs-exact policy (no SymPy).

Shared by the fast path of the grader and by the SymPy comparison of structures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MIN_TOLERANT_PLACES = 6

_INT_RE = re.compile(r"[-+]?\d+")
_DEC_RE = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+)")
_FRAC_RE = re.compile(r"([-+]?)(?:(\d+)\s*/\s*(\d+)|\\frac\{(\d+)\}\{(\d+)\})")
# "1000,99", "2,74", "0,111": a comma that cannot be a thousands separator (the group
# after it is not three digits, or the part before it is longer than three or a lone 0).
_COMMA_DECIMAL_RE = re.compile(r"([-+]?)(\d+),(\d+)")
_FAST_MAX_CHARS = 400


@dataclass(frozen=True, slots=True)
class Num:
    value: Fraction
    places: int  # decimal places when written as a decimal, else -1


def plain_number(text: str) -> Num | None:
    """A plain integer, decimal or fraction as an exact ``Fraction``."""
    text = text.replace(" ", "")
    if len(text) > _FAST_MAX_CHARS:
        return None
    if _INT_RE.fullmatch(text):
        return Num(Fraction(int(text)), -1)
    if _DEC_RE.fullmatch(text):
        return Num(Fraction(text), len(text.partition(".")[2]))
    match = _FRAC_RE.fullmatch(text)
    if match is not None:
        num, den = match.group(2) or match.group(4), match.group(3) or match.group(5)
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return Num(-value if match.group(1) == "-" else value, -1)
    return None


def comma_decimal(text: str) -> str | None:
    """``1000,99`` -> ``1000.99`` when the comma can only be a decimal comma, else None."""
    match = _COMMA_DECIMAL_RE.fullmatch(text.replace(" ", ""))
    if match is None:
        return None
    sign, whole, frac = match.groups()
    if len(frac) != 3 or len(whole) > 3 or whole == "0":
        return f"{sign}{whole}.{frac}"
    return None


def decimal_matches(*, decimal: Fraction, places: int, exact: float | Fraction) -> bool:
    """A decimal written with at least 6 places matches an exact non-integer value when it
    is that value correctly rounded or truncated to those places; fewer places never do."""
    if places < MIN_TOLERANT_PLACES:
        return False
    exact = Fraction(exact)
    unit = Fraction(1, 10**places)
    if abs(decimal - exact) <= unit / 2:
        return True  # correctly rounded
    # Truncated: same sign, and the exact value lies in [|d|, |d| + unit).
    return (decimal >= 0) == (exact >= 0) and 0 <= abs(exact) - abs(decimal) < unit


def numbers_equal(*, gold: Num, pred: Num) -> bool:
    """Exact equality, or the decimal policy when exactly one side is a decimal."""
    if gold.value == pred.value:
        return True
    if (gold.places >= 0) == (pred.places >= 0):
        return False
    dec, exact = (gold, pred) if gold.places >= 0 else (pred, gold)
    if exact.value.denominator == 1:
        return False
    return decimal_matches(decimal=dec.value, places=dec.places, exact=exact.value)

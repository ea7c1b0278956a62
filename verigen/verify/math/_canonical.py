"""A canonical form of an answer, so that equivalent answers vote together in maj@k.

``0.5``, ``\\frac12`` and ``1/2`` all become ``1/2``; ``x = 5`` becomes ``5``; an
expression becomes SymPy's printed form (commutative order is canonical there). The form
is a grouping key, not a verdict: two answers with different keys may still be equal.
"""

from __future__ import annotations

import re

from verigen.verify.math._labels import delabel
from verigen.verify.math._numbers import comma_decimal, plain_number
from verigen.verify.math.normalize import normalize
from verigen.verify.math.values import ParseError

_MAX_PARSE = 300


def canonical(answer: str) -> str:
    """The grouping key of one extracted answer."""
    norm = normalize(answer)
    text = norm.text
    labelled = delabel(text)
    if labelled is not None and len(labelled.items) == 1:
        text = labelled.items[0]
    suffix = "%" if norm.percent else ""
    number = plain_number(text) or plain_number(comma_decimal(text) or "")
    if number is not None:
        value = number.value
        return (f"{value.numerator}" if value.denominator == 1 else f"{value.numerator}/{value.denominator}") + suffix
    if len(text) <= _MAX_PARSE and re.search(r"[\\a-zA-Z(\[{]", text):
        from verigen.verify.math.parse import parse_math

        try:
            return str(parse_math(text).value) + suffix
        except (ParseError, RecursionError, ValueError, TypeError, ArithmeticError):
            pass
    return re.sub(r"\s+", "", text).casefold() + suffix

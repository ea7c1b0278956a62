"""A canonical form of an answer, so that equivalent answers vote together in maj@k.

``0.5``, ``\\frac12`` and ``1/2`` all become ``1/2``; ``x = 5`` becomes ``5``; an
expression the grader parsed becomes SymPy's printed form (commutative order is canonical
there), anything else its normalized text. The form is a grouping key, not a verdict:
two answers with different keys may still be equal. No SymPy here: the grader's parse is
reused (``parsed``) rather than repeated.
"""

from __future__ import annotations

import re

from verigen.verify.math._labels import delabel
from verigen.verify.math._numbers import comma_decimal, plain_number
from verigen.verify.math.normalize import normalize


def canonical(answer: str, parsed: str | None = None) -> str:
    """The grouping key of one extracted answer (``parsed``: the grader's printed parse)."""
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
    if parsed is not None and labelled is None:
        return parsed
    return re.sub(r"\s+", "", text).casefold() + suffix

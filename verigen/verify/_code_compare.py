"""Output comparison for stdin/stdout and call-based tests (APPS conventions).

Both comparisons are asymmetric (``gold=`` is the expected output, ``pred=`` the
program's); integers compare exactly (1000001 is not 1000000, and an integer expected
value needs an integer answer: 7.0000001 is not 7), floats with a tolerance, and booleans
are not integers.
"""

from __future__ import annotations

import json
import math

from verigen.types import JSONValue

REL_TOL = 1e-6
ABS_TOL = 1e-6
_INT_CHUNK = 4000  # below the interpreter's int/str conversion limit


def _parse_int(text: str) -> int:
    """``int(text)`` without the interpreter's 4300-digit limit (and without changing it)."""
    if len(text) <= _INT_CHUNK:
        return int(text)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    value = 0
    for i in range(0, len(digits), _INT_CHUNK):
        chunk = digits[i : i + _INT_CHUNK]
        value = value * 10 ** len(chunk) + int(chunk)
    return sign * value


def loads(text: str) -> JSONValue:
    """``json.loads`` that also reads integers of any size."""
    value: JSONValue = json.loads(text, parse_int=_parse_int)
    return value


def _is_int_token(tok: str) -> bool:
    body = tok[1:] if tok[:1] in "+-" else tok
    return body.isdigit()


def _token_match(gold: str, pred: str) -> bool:
    if gold == pred:
        return True
    if _is_int_token(gold):
        return False  # an integer answer must be printed as that integer, exactly
    try:
        g, p = float(gold), float(pred)
    except ValueError:
        return False
    return math.isfinite(g) and math.isfinite(p) and math.isclose(g, p, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def stdout_match(*, gold: str, pred: str) -> bool:
    """Whitespace-tolerant comparison: surrounding blanks and line breaks do not matter,
    the token sequences must agree (floats within tolerance)."""
    gold_tokens = gold.split()
    pred_tokens = pred.split()
    if len(gold_tokens) != len(pred_tokens):
        return False
    return all(_token_match(g, p) for g, p in zip(gold_tokens, pred_tokens))


def _value_eq(gold: JSONValue, pred: JSONValue) -> bool:
    if isinstance(gold, bool) or isinstance(pred, bool):
        return type(gold) is type(pred) and gold == pred  # True is not 1
    if isinstance(gold, int):
        return type(pred) is int and gold == pred  # an int needs an int, exactly
    if isinstance(gold, float) and isinstance(pred, (int, float)):
        try:
            return math.isclose(gold, pred, rel_tol=REL_TOL, abs_tol=ABS_TOL) or gold == pred
        except OverflowError:  # an int beyond any float (10 ** 400): never close to one
            return False
    if isinstance(gold, list) and isinstance(pred, list):
        return len(gold) == len(pred) and all(_value_eq(g, p) for g, p in zip(gold, pred))
    if isinstance(gold, dict) and isinstance(pred, dict):
        return gold.keys() == pred.keys() and all(_value_eq(gold[k], pred[k]) for k in gold)
    return type(gold) is type(pred) and gold == pred


def value_match(*, gold: JSONValue, pred: JSONValue) -> bool:
    """APPS call-based rule: the result equals the expected output, or its only element
    (expected outputs are usually stored as a one-element list)."""
    if _value_eq(gold, pred):
        return True
    return isinstance(gold, list) and len(gold) == 1 and _value_eq(gold[0], pred)

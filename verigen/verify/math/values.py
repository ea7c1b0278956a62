"""Structured answer values the parser builds around SymPy scalars (no SymPy import here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

# A scalar is a SymPy ``Expr``; it is typed ``object`` so this module imports no SymPy.
Scalar = object


class ParseError(ValueError):
    """The text is not math this parser accepts (the comparison falls back to strings)."""


class TooLarge(ParseError):
    """The text asks for an object above the size caps (huge power, factorial, literal)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bracketed:
    """``(a, b)``, ``[a, b)``...: a tuple or an interval, decided against the gold."""

    left: str
    right: str
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetValue:
    """``\\{a, b\\}``: unordered, duplicates ignored."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BareList:
    """``a, b, c`` with no brackets: the usual "enter all solutions" list, unordered."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnionValue:
    """``A \\cup B``: a union of intervals or sets, compared unordered."""

    parts: tuple[Value, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Relation:
    """``lhs op rhs``; ``op`` is one of ``=``, ``<``, ``>``, ``<=``, ``>=``, ``!=``."""

    op: str
    lhs: Scalar
    rhs: Scalar


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain:
    """``a < x \\le b``: several relations in a row (``ops[i]`` between ``terms[i]`` and ``terms[i+1]``)."""

    ops: tuple[str, ...]
    terms: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Colon:
    """``7:32`` (a ratio) or ``20:34:00`` (a clock time): integers or scalars between colons."""

    items: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixValue:
    rows: tuple[tuple[Scalar, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseNumber:
    """``204_5``: digits written in another base (compared as digits, not as a value)."""

    digits: str
    base: str


Value = Union[Scalar, Bracketed, SetValue, BareList, UnionValue, Relation, Chain, Colon, MatrixValue, BaseNumber]


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """A parsed answer; ``decimal_places`` is the most places of any decimal literal in it."""

    value: Value
    decimal_places: int = 0

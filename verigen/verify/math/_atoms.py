"""Atoms of the math grammar: numbers, symbols, brackets, sets, matrices and LaTeX macros.

Split out of ``parse.py`` to keep modules small; ``parse_atom`` reads from a ``_Parser``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from verigen.verify.math.values import (
    Bracketed,
    MatrixValue,
    ParseError,
    Scalar,
    SetValue,
    TooLarge,
    Value,
)

if TYPE_CHECKING:
    from verigen.verify.math.parse import _Parser

FUNCS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "log", "ln", "exp", "lg",
})
_MAX_BINOM_K = 1000
_CLOSERS = {"(": (")", "]"), "[": ("]", ")")}


def parse_atom(p: _Parser) -> Value:
    """One atom; raises ``ParseError`` on anything outside the grammar."""
    tok = p.take()
    sp = p.sp
    if tok.kind == "num":
        return cast(Value, p.number(tok.text))
    if tok.kind == "word":
        return _letter(p, tok.text)
    if tok.kind == "op":
        if tok.text in _CLOSERS:
            return _bracket(p, tok.text)
        if tok.text == "{":
            p.pos -= 1
            return p.group()
        if tok.text == "|":
            inner = p.scalar(p.sum())
            p.expect("|")
            return cast(Scalar, sp.Abs(inner))
        raise ParseError(f"unexpected {tok.text!r}")
    if tok.kind == "cmd":
        return _command(p, tok.text)
    raise ParseError("unexpected end of answer")


def _letter(p: _Parser, name: str) -> Scalar:
    sp = p.sp
    if p.peek().text == "_" and p.peek(1).kind in ("num", "word") and len(p.peek(1).text) <= 2:
        p.take()
        return sp.Symbol(f"{name}_{p.take().text}")
    if name == "e":
        return sp.E
    if name == "i":
        return sp.I
    return sp.Symbol(name)


def _bracket(p: _Parser, left: str) -> Value:
    """``(x)`` is grouping; ``(a, b)``, ``[a, b)``... are tuples or intervals."""
    items = [p.union()]
    while p.accept(","):
        items.append(p.union())
    right = p.take().text
    if right not in _CLOSERS[left]:
        raise ParseError(f"unbalanced {left!r}")
    if len(items) == 1 and left + right in ("()", "[]"):
        return items[0]
    return Bracketed(left=left, right=right, items=tuple(items))


def _set(p: _Parser) -> SetValue:
    if p.accept(r"\}"):
        return SetValue(items=())
    items = [p.relation()]
    while p.accept(","):
        items.append(p.relation())
    p.expect(r"\}")
    return SetValue(items=tuple(items))


def _matrix(p: _Parser) -> MatrixValue:
    p.expect("{")
    env = p.take().text
    p.expect("}")
    if env not in ("pmatrix", "bmatrix", "matrix", "Bmatrix", "smallmatrix", "vmatrix"):
        raise ParseError(f"unsupported environment {env!r}")
    rows: list[tuple[Any, ...]] = []
    row: list[Any] = []
    while True:
        if p.accept(r"\end"):
            p.expect("{")
            p.take()
            p.expect("}")
            break
        row.append(p.scalar(p.sum()))
        if p.accept("&"):
            continue
        rows.append(tuple(row))
        row = []
        if not p.accept("\\\\") and p.peek().text != r"\end":
            raise ParseError(f"unexpected {p.peek().text!r} in matrix")
    if row:
        rows.append(tuple(row))
    if not rows or len({len(r) for r in rows}) != 1:
        raise ParseError("ragged matrix")
    return MatrixValue(rows=tuple(rows))


def _root(p: _Parser) -> Scalar:
    sp = p.sp
    index = None
    if p.accept("["):
        index = p.scalar(p.sum())
        p.expect("]")
    radicand = p.scalar(p.arg())
    if index is None:
        return sp.sqrt(radicand)
    if not (isinstance(index, sp.Integer) and 2 <= index <= 100):
        raise ParseError("root index must be an integer from 2 to 100")
    return sp.root(radicand, index)


def _binomial(p: _Parser) -> Scalar:
    sp = p.sp
    n, k = p.scalar(p.arg()), p.scalar(p.arg())
    if isinstance(n, sp.Integer) and isinstance(k, sp.Integer):
        if min(k, abs(n - k)) > _MAX_BINOM_K:
            raise TooLarge("binomial too large")
    return sp.binomial(n, k)


def _function(p: _Parser, name: str) -> Scalar:
    sp = p.sp
    power = None
    base = None
    if name == "log" and p.accept("_"):
        base = p.scalar(p.arg())
    if p.accept("^"):
        power = p.scalar(p.arg())
    if p.peek().text == "(":
        p.take()
        arg = p.scalar(p.sum())
        p.expect(")")
    else:
        arg = p.scalar(p.power())
    funcs = {
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
        "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "sinh": sp.sinh,
        "cosh": sp.cosh, "tanh": sp.tanh, "ln": sp.log, "exp": sp.exp,
    }
    if name in ("log", "lg"):
        value = sp.log(arg, base if base is not None else (10 if name == "lg" else sp.E))
    else:
        value = funcs[name](arg)
    return value if power is None else p.pow(value, power)


def _command(p: _Parser, cmd: str) -> Value:
    sp = p.sp
    name = cmd[1:]
    if name == "frac":
        num = p.scalar(p.arg())
        return cast(Scalar, p._divide(num, p.scalar(p.arg())))
    if name == "sqrt":
        return _root(p)
    if name in ("binom", "dbinom", "tbinom"):
        return _binomial(p)
    if name == "pi":
        return cast(Scalar, sp.pi)
    if name in ("infty", "inf"):
        return cast(Scalar, sp.oo)
    if name in ("emptyset", "varnothing"):
        return SetValue(items=())
    if name == "{":
        return _set(p)
    if name == "begin":
        return _matrix(p)
    if name in FUNCS:
        return _function(p, name)
    raise ParseError(f"unsupported command \\{name[:20]}")

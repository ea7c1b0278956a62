"""Atoms of the math grammar: numbers, symbols, brackets, sets, matrices and LaTeX macros.

Split out of ``parse.py`` to keep modules small; ``parse_atom`` reads from a ``Grammar``.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from verigen.verify.math.values import (
    Bracketed,
    MatrixValue,
    ParseError,
    Scalar,
    SetValue,
    TooLarge,
    Value,
)


class Token(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...


class Grammar(Protocol):
    """What atoms need of the parser (``parse.Grammar``); declared here so that this module
    does not import the parser that imports it."""

    sp: Any
    pos: int

    def peek(self, ahead: int = 0) -> Token: ...
    def take(self) -> Token: ...
    def accept(self, text: str) -> bool: ...
    def expect(self, text: str) -> None: ...
    def scalar(self, value: Value) -> Any: ...
    def sum(self) -> Any: ...
    def union(self) -> Value: ...
    def relation(self) -> Value: ...
    def group(self) -> Value: ...
    def arg(self) -> Any: ...
    def power(self) -> Any: ...
    def term(self) -> Any: ...
    def number(self, text: str) -> Any: ...
    def pow(self, base: Any, exponent: Any) -> Any: ...
    def divide(self, num: Any, den: Any) -> Any: ...

FUNCS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "log", "ln", "exp", "lg",
})
_MAX_BINOM_K = 1000
_MAX_SUM_TERMS = 1000
_CLOSERS = {"(": (")", "]"), "[": ("]", ")")}


def parse_atom(p: Grammar) -> Value:
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


def _letter(p: Grammar, name: str) -> Scalar:
    sp = p.sp
    if p.peek().text == "_" and p.peek(1).kind in ("num", "word") and len(p.peek(1).text) <= 2:
        p.take()
        return sp.Symbol(f"{name}_{p.take().text}")
    if p.peek().text == "_" and p.peek(1).text == "{":
        # a_{37} is the same name as a_37; F_{n-k-1} is one name, not arithmetic.
        sub = _raw_group(p, 1)
        if sub is not None:
            return sp.Symbol(f"{name}_{sub}")
    if name == "e":
        return sp.E
    if name == "i":
        return sp.I
    return sp.Symbol(name)


def _raw_group(p: Grammar, offset: int) -> str | None:
    """The text of the braced group starting ``offset`` tokens ahead, consumed with the
    tokens before it; None (nothing consumed) when it is unclosed or longer than 20 tokens."""
    depth, texts = 0, []
    for ahead in range(offset, offset + 22):
        tok = p.peek(ahead)
        if tok.kind == "end":
            return None
        depth += {"{": 1, "}": -1}.get(tok.text, 0)
        texts.append(tok.text)
        if depth == 0:
            for _ in range(ahead + 1):
                p.take()
            return "".join(texts[1:-1])
    return None


def _sum(p: Grammar) -> Scalar:
    """``\\sum_{k=a}^{b} term``: expanded when the bounds are close integers, else kept."""
    sp = p.sp
    p.expect("_")
    p.expect("{")
    var = p.take()
    if var.kind != "word" or len(var.text) != 1:
        raise ParseError("a sum needs a one-letter index")
    p.expect("=")
    low = p.scalar(p.sum())
    p.expect("}")
    p.expect("^")
    high = p.scalar(p.arg())
    body = p.scalar(p.term())
    index = sp.Symbol(var.text)
    if isinstance(low, sp.Integer) and isinstance(high, sp.Integer):
        if not 0 <= int(high) - int(low) <= _MAX_SUM_TERMS:
            raise TooLarge("a sum of too many terms")
        return cast(Scalar, sp.Add(*(body.subs(index, i) for i in range(int(low), int(high) + 1))))
    return cast(Scalar, sp.Sum(body, (index, low, high)))


def _bracket(p: Grammar, left: str) -> Value:
    """``(x)`` is grouping; ``(a, b)``, ``[a, b)``... are tuples or intervals."""
    items = [p.union()]
    while p.accept(",") or p.accept(";"):
        items.append(p.union())
    right = p.take().text
    if right not in _CLOSERS[left]:
        raise ParseError(f"unbalanced {left!r}")
    if len(items) == 1 and left + right in ("()", "[]"):
        return items[0]
    return Bracketed(left=left, right=right, items=tuple(items))


def _set(p: Grammar) -> SetValue:
    if p.accept(r"\}"):
        return SetValue(items=())
    items = [p.relation()]
    while p.accept(",") or p.accept(";"):
        items.append(p.relation())
    p.expect(r"\}")
    return SetValue(items=tuple(items))


def _matrix(p: Grammar) -> MatrixValue:
    p.expect("{")
    env = p.take().text
    p.expect("}")
    if env not in ("pmatrix", "bmatrix", "matrix", "Bmatrix", "smallmatrix", "vmatrix", "array"):
        raise ParseError(f"unsupported environment {env!r}")
    if env == "array":  # the column spec {cc} / {c|c}
        p.expect("{")
        for _ in range(64):
            if p.accept("}"):
                break
            if p.take().kind == "end":
                raise ParseError("unterminated array column spec")
        else:
            raise ParseError("array column spec too long")
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


def _shape(matrix: MatrixValue) -> tuple[int, int]:
    return len(matrix.rows), len(matrix.rows[0])


def matrix_plus(left: Any, right: Any) -> MatrixValue:
    """The sum of two matrices of one shape (anything else is not math here)."""
    if not (isinstance(left, MatrixValue) and isinstance(right, MatrixValue)) or _shape(left) != _shape(right):
        raise ParseError("sum of a matrix and a value of another shape")
    rows: list[tuple[Any, ...]] = []
    for ra, rb in zip(left.rows, right.rows, strict=True):
        rows.append(tuple(cast(Any, a) + b for a, b in zip(ra, rb, strict=True)))
    return MatrixValue(rows=tuple(rows))


def matrix_times(sp: Any, left: Any, right: Any) -> MatrixValue:
    """A matrix product, or a scalar times a matrix."""
    if isinstance(left, MatrixValue) and isinstance(right, MatrixValue):
        if _shape(left)[1] != _shape(right)[0]:
            raise ParseError("product of matrices of mismatched shapes")
        cols = list(zip(*right.rows, strict=True))
        return MatrixValue(rows=tuple(
            tuple(sum((cast(Any, a) * b for a, b in zip(row, col, strict=True)), sp.Integer(0)) for col in cols)
            for row in left.rows))
    matrix: MatrixValue = left if isinstance(left, MatrixValue) else right
    factor: Any = right if isinstance(left, MatrixValue) else left
    return MatrixValue(rows=tuple(tuple(factor * x for x in row) for row in matrix.rows))


def _root(p: Grammar) -> Scalar:
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


def _binomial(p: Grammar) -> Scalar:
    sp = p.sp
    n, k = p.scalar(p.arg()), p.scalar(p.arg())
    if isinstance(n, sp.Integer) and isinstance(k, sp.Integer):
        if min(k, abs(n - k)) > _MAX_BINOM_K:
            raise TooLarge("binomial too large")
    return sp.binomial(n, k)


def _function(p: Grammar, name: str) -> Scalar:
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


def _command(p: Grammar, cmd: str) -> Value:
    sp = p.sp
    name = cmd[1:]
    if name == "frac":
        num = p.scalar(p.arg())
        return cast(Scalar, p.divide(num, p.scalar(p.arg())))
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
    if name == "sum":
        return _sum(p)
    raise ParseError(f"unsupported command \\{name[:20]}")

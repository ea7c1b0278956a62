"""A recursive-descent parser from LaTeX / plain math to SymPy objects.

Model text is never handed to ``sympify``, ``parse_expr``, ``eval`` or ``exec`` (they run
code): this parser builds SymPy objects itself from a small grammar, so an answer can only
ever be numbers, single-letter symbols, known functions and the structures of
``values.py``. Sizes are capped *before* SymPy builds anything large: literal digits,
powers (by ``|exponent| * log10|base|``), factorials, binomials, nesting depth and length.
SymPy is imported lazily, inside ``parse_math``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from verigen.verify.math._atoms import FUNCS as _FUNCS
from verigen.verify.math._atoms import matrix_plus, matrix_times, parse_atom
from verigen.verify.math.values import (
    BareList,
    BaseNumber,
    Bracketed,
    Chain,
    Colon,
    MatrixValue,
    Parsed,
    ParseError,
    Relation,
    SetValue,
    TooLarge,
    UnionValue,
    Value,
)

MAX_TEXT = 3000  # characters of one answer (room for a MAX_DIGITS literal)
MAX_DIGITS = 2000  # digits of one integer literal, and of any evaluated power
MAX_DEPTH = 60  # nesting of brackets / groups
MAX_FACTORIAL = 1000
MAX_SYMBOLIC_EXPONENT = 64  # x^n with n above this is refused (expansion would explode)
MAX_CHAIN = 8  # relations in one chain (a < b < c ...)

_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+(?![a-zA-Z]))?|\.\d+(?:[eE][-+]?\d+(?![a-zA-Z]))?)"
    r"|(?P<cmd>\\(?:[a-zA-Z]+|[{}|\\]))"
    r"|(?P<word>[a-zA-Z]+)"
    r"|(?P<op>\*\*|<=|>=|!=|[-+*/^_()\[\]{},;:=!|<>&])"
)
_WORD_CMDS = _FUNCS | {"sqrt", "pi", "infty", "inf"}
_REL_CMDS = {r"\leq": "<=", r"\geq": ">=", r"\le": "<=", r"\ge": ">=", r"\neq": "!=", r"\ne": "!=",
             r"\lt": "<", r"\gt": ">", r"\leqslant": "<=", r"\geqslant": ">="}
_REL_OPS = {"=", "<", ">", "<=", ">=", "!="}
_MATRIX_ENVS = {"pmatrix", "bmatrix", "matrix", "Bmatrix", "smallmatrix"}
_IGNORED_CMDS = {r"\displaystyle", r"\limits", r"\mathrm", r"\mathbf", r"\boldsymbol"}
# Tokens that may start an implicitly multiplied factor ("2x", "3\sqrt{2}", "(a+1)(b+2)").
_IMPLICIT_CMDS = {r"\frac", r"\sqrt", r"\pi", r"\infty", r"\binom", r"\dbinom", r"\tbinom", r"\begin"} | {
    "\\" + f for f in _FUNCS
}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num | cmd | word | op | end
    text: str


def tokenize(text: str) -> list[_Tok]:
    """Split ``text`` into tokens; anything outside the grammar raises ``ParseError``."""
    if len(text) > MAX_TEXT:
        raise ParseError(f"answer longer than {MAX_TEXT} characters")
    toks: list[_Tok] = []
    pos = 0
    split_words = not re.fullmatch(r"[\sa-zA-Z().]*", text)
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        tok = match.group(0)
        if kind == "ws" or tok in _IGNORED_CMDS:
            continue
        if kind == "word":
            if len(toks) >= 2 and toks[-2].text in (r"\begin", r"\end") and toks[-1].text == "{":
                toks.append(_Tok("env", tok))
                continue
            if tok in _WORD_CMDS:
                kind, tok = "cmd", "\\" + tok
            elif len(tok) > 1:
                # Arbitrary names (``system``, ``lambda``) are never symbols; a short run of
                # letters inside math ("2ab") is a product, a lone word ("no") is text.
                if len(tok) > 3 or not split_words:
                    raise ParseError(f"unknown name {tok[:20]!r}")
                toks.extend(_Tok("word", ch) for ch in tok)
                continue
        toks.append(_Tok(kind, tok))
    toks.append(_Tok("end", ""))
    return toks


class _Parser:
    def __init__(self, toks: list[_Tok], sp: Any) -> None:
        self.toks = toks
        self.pos = 0
        self.sp = sp
        self.depth = 0
        self.decimal_places = 0
        self.pm = sp.Symbol("PM__")  # stands for \pm; expanded to a set by the comparison

    # -- token helpers -------------------------------------------------------------
    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.pos + ahead, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.pos += 1
        return tok

    def accept(self, text: str) -> bool:
        if self.peek().text == text and self.peek().kind != "end":
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise ParseError(f"expected {text!r}, got {self.peek().text!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooLarge(f"nesting deeper than {MAX_DEPTH}")

    # -- grammar -------------------------------------------------------------------
    def top(self) -> Value:
        items = [self.union()]
        while self.accept(",") or self.accept(";"):
            items.append(self.union())
        if self.peek().kind != "end":
            raise ParseError(f"unexpected {self.peek().text!r}")
        return items[0] if len(items) == 1 else BareList(items=tuple(items))

    def union(self) -> Value:
        parts = [self.relation()]
        while self.accept(r"\cup"):
            parts.append(self.relation())
        return parts[0] if len(parts) == 1 else UnionValue(parts=tuple(parts))

    def _rel_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == "end":
            return None
        return _REL_CMDS.get(tok.text) if tok.kind == "cmd" else (tok.text if tok.text in _REL_OPS else None)

    def relation(self) -> Value:
        lhs: Value = self.sum()
        if self.peek().text == ":" and self.peek().kind == "op":
            return self.colon(lhs)
        ops: list[str] = []
        terms: list[Value] = [lhs]
        while (op := self._rel_op()) is not None:
            if len(ops) >= MAX_CHAIN:
                raise TooLarge(f"more than {MAX_CHAIN} relations in a chain")
            self.take()
            ops.append(op)
            terms.append(self.sum())
        if not ops:
            return lhs
        if len(ops) == 1:
            return Relation(op=ops[0], lhs=terms[0], rhs=terms[1])
        return Chain(ops=tuple(ops), terms=tuple(self.scalar(t) for t in terms))

    def colon(self, first: Value) -> Colon:
        """``7:32``, ``20:34:00``: scalars between colons."""
        items = [self.scalar(first)]
        while self.accept(":"):
            items.append(self.scalar(self.sum()))
        if len(items) > 4:
            raise ParseError("more than four parts between colons")
        return Colon(items=tuple(items))

    def scalar(self, value: Value) -> Any:
        """``value`` if it is a SymPy expression; arithmetic on structures is not math."""
        if not isinstance(value, self.sp.Expr):
            raise ParseError(f"arithmetic on a {type(value).__name__}")
        return value

    def sum(self) -> Any:
        sign = self._sign()
        first = self.term()
        if sign is None and self._sign_ahead() is None:
            return first  # a lone tuple / set / matrix is fine here
        value = self.arith(first) if sign is None else self.times(sign, first)
        while True:
            sign = self._sign()
            if sign is None:
                return value
            value = self.plus(value, self.times(sign, self.term()))

    def arith(self, value: Any) -> Any:
        """``value`` if arithmetic applies to it: a scalar or a matrix."""
        return value if isinstance(value, MatrixValue) else self.scalar(value)

    def plus(self, left: Any, right: Any) -> Any:
        left, right = self.arith(left), self.arith(right)
        if isinstance(left, MatrixValue) or isinstance(right, MatrixValue):
            return matrix_plus(left, right)
        return left + right

    def times(self, left: Any, right: Any) -> Any:
        left, right = self.arith(left), self.arith(right)
        if isinstance(left, MatrixValue) or isinstance(right, MatrixValue):
            return matrix_times(self.sp, left, right)
        return left * right

    def _sign_ahead(self) -> str | None:
        text = self.peek().text
        return text if text in ("+", "-", r"\pm", r"\mp") and self.peek().kind != "end" else None

    def _sign(self) -> Any:
        text = self.peek().text
        if text in ("+", "-", r"\pm", r"\mp") and self.peek().kind != "end":
            self.take()
            one = self.sp.Integer(1)
            return {"+": one, "-": -one, r"\pm": self.pm, r"\mp": -self.pm}[text]
        return None

    def term(self) -> Any:
        value = self.unary()
        while True:
            text = self.peek().text
            if text in ("*", r"\cdot", r"\times"):
                self.take()
                value = self.times(value, self.unary())
            elif text in ("/", r"\div"):
                self.take()
                value = self.divide(self.scalar(value), self.scalar(self.unary()))
            elif self._starts_implicit_factor():
                value = self.times(value, self.power())
            else:
                return value

    def divide(self, num: Any, den: Any) -> Any:
        if den == 0:
            raise ParseError("division by zero")
        return num / den

    def _starts_implicit_factor(self) -> bool:
        tok = self.peek()
        if tok.kind in ("word", "num"):
            return tok.kind == "word" or self.toks[self.pos - 1].text in (")", "}")
        if tok.kind == "cmd":
            return tok.text in _IMPLICIT_CMDS
        return tok.text in ("(", "{") and tok.kind == "op"

    def unary(self) -> Any:
        if self.accept("-"):
            return self.times(self.sp.Integer(-1), self.unary())
        if self.accept("+"):
            return self.unary()
        return self.power()

    def power(self) -> Any:
        base = self.postfix()
        if self.accept("^") or self.accept("**"):
            if self.peek().text == "{":
                exponent = self.group()
            else:
                exponent = self.unary()
            return self.pow(base, exponent)
        return base

    def pow(self, base: Any, exponent: Any) -> Any:
        sp = self.sp
        if not isinstance(base, sp.Expr) or not isinstance(exponent, sp.Expr):
            raise ParseError("power of a non-scalar")
        if isinstance(exponent, sp.Number) and base.is_number:
            self._check_numeric_power(base, exponent)
        elif isinstance(exponent, sp.Number) and abs(exponent) > MAX_SYMBOLIC_EXPONENT:
            raise TooLarge(f"exponent {exponent} on a symbolic base")
        if exponent.is_number and not isinstance(exponent, sp.Number) and base.is_number:
            # A numeric base with a non-literal exponent (2^{\sqrt 2}) stays symbolic, but
            # its magnitude is bounded so later numeric evaluation stays cheap.
            bound = _magnitude(sp, exponent)
            if bound * math.log10(max(2.0, _magnitude(sp, base))) > MAX_DIGITS:
                raise TooLarge("power too large")
        return sp.Pow(base, exponent)

    def _check_numeric_power(self, base: Any, exponent: Any) -> None:
        sp = self.sp
        if abs(exponent) > 10**6:
            raise TooLarge(f"exponent {exponent} too large")
        mag = abs(base)
        if isinstance(mag, sp.Rational):
            size = max(abs(int(mag.p)), abs(int(mag.q)))
            log_size = math.log10(size) if size > 1 else 0.0  # math.log10 takes big ints
        else:
            log_size = math.log10(max(2.0, _magnitude(sp, mag)))
        if abs(float(exponent)) * log_size > MAX_DIGITS:
            raise TooLarge("power too large to evaluate")

    def postfix(self) -> Any:
        value = self.atom()
        while self.peek().text == "!" and self.peek().kind == "op":
            self.take()
            value = self.factorial(value)
        return value

    def factorial(self, value: Any) -> Any:
        sp = self.sp
        if not isinstance(value, sp.Expr):
            raise ParseError("factorial of a non-scalar")
        if value.is_number:
            if not (isinstance(value, sp.Integer) and value >= 0):
                raise ParseError("factorial of a non-natural number")
            if value > MAX_FACTORIAL:
                raise TooLarge(f"factorial of {value}")
        return sp.factorial(value)

    def group(self) -> Value:
        self.expect("{")
        self.enter()
        value = self.union()
        self.expect("}")
        self.depth -= 1
        return value

    def arg(self) -> Any:
        """A LaTeX macro argument: a braced group or one token (``\\frac12``)."""
        tok = self.peek()
        if tok.text == "{":
            return self.group()
        if tok.kind == "num" and len(tok.text) > 1 and tok.text.isdigit():
            self.toks[self.pos] = _Tok("num", tok.text[1:])
            return self.number(tok.text[0])
        return self.atom()

    def atom(self) -> Any:
        self.enter()
        value = parse_atom(self)
        self.depth -= 1
        return value

    def number(self, text: str) -> Any:
        sp = self.sp
        mantissa, _, exp = text.lower().partition("e")
        whole, _, frac = mantissa.partition(".")
        if len(whole) + len(frac) > MAX_DIGITS or (exp and abs(int(exp)) > MAX_DIGITS):
            raise TooLarge(f"literal with more than {MAX_DIGITS} digits")
        if frac or exp:
            self.decimal_places = max(self.decimal_places, len(frac) - (int(exp) if exp else 0))
        value = sp.Integer(int(whole or "0"))
        if frac:
            value = sp.Rational(int(whole + frac), 10 ** len(frac))
        if exp:
            value = value * sp.Rational(10) ** int(exp)
        if self.peek().text == "_" and not frac and not exp:
            return self.base_number(text)
        return value

    def base_number(self, digits: str) -> BaseNumber:
        """``204_5`` / ``204_{5}``: the base must be a plain integer literal."""
        self.expect("_")
        braced = self.accept("{")
        tok = self.take()
        if tok.kind != "num" or not tok.text.isdigit() or len(tok.text) > 3:
            raise ParseError("a base subscript must be an integer")
        if braced:
            self.expect("}")
        return BaseNumber(digits=digits, base=str(int(tok.text)))


def _magnitude(sp: Any, value: Any) -> float:
    """``|value|`` as a float; a non-finite value is refused."""
    mag = float(sp.Abs(value).evalf(15))
    if not math.isfinite(mag):
        raise ParseError("non-finite value")
    return mag


def parse_math(text: str) -> Parsed:
    """Parse a normalized answer; raises ``ParseError`` (or ``TooLarge``) when it cannot."""
    import sympy

    parser = _Parser(tokenize(text), sympy)
    try:
        value = parser.top()
    except RecursionError:
        raise TooLarge("nesting too deep") from None
    except ZeroDivisionError:
        raise ParseError("division by zero") from None
    return Parsed(value=value, decimal_places=parser.decimal_places)


__all__ = ["BareList", "Bracketed", "MatrixValue", "ParseError", "SetValue", "parse_math"]

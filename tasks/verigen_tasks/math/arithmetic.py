"""Integer arithmetic with difficulty levels 1..5 (task ``arithmetic``).

Levels grow the number of operands and digits, then add multiplication, exact division
and parentheses:

1. two operands up to 99, ``+ -``
2. three operands up to 99, ``+ -``
3. three or four operands up to 99, ``+ - *`` (precedence, no parentheses)
4. four operands up to 999, ``+ - * /`` with parentheses
5. five or six operands up to 9999, ``+ - * /`` with parentheses

Division always comes out exact: a divisor is drawn among the divisors of the dividend.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

from pydantic import Field

from verigen.types import JSONScalar
from verigen_tasks.math._common import evaluate, paren
from verigen_tasks.math._procedural import Claim, CountArgs, Item, ProceduralMathTask, Step


class ArithmeticArgs(CountArgs):
    """``difficulty`` 1..5 (see the module docstring) and ``count``."""

    difficulty: int = Field(default=3, ge=1, le=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    operands: tuple[int, int]  # inclusive range of the operand count
    max_leaf: int
    max_factor: int  # multipliers and divisors stay small so results stay readable
    ops: tuple[str, ...]
    parentheses: bool


LEVELS: Mapping[int, Level] = {
    1: Level(operands=(2, 2), max_leaf=99, max_factor=0, ops=("+", "-"), parentheses=False),
    2: Level(operands=(3, 3), max_leaf=99, max_factor=0, ops=("+", "-"), parentheses=False),
    3: Level(operands=(3, 4), max_leaf=99, max_factor=12, ops=("+", "-", "*"), parentheses=False),
    4: Level(operands=(4, 4), max_leaf=999, max_factor=12, ops=("+", "-", "*", "/"),
             parentheses=True),
    5: Level(operands=(5, 6), max_leaf=9999, max_factor=25, ops=("+", "-", "*", "/"),
             parentheses=True),
}

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}
_LEAF_PREC = 3
_AST_OPS: Mapping[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Node:
    text: str
    value: Fraction
    prec: int


def _wrap(child: _Node, op: str, *, right: bool) -> str:
    # Parentheses exactly where precedence or left-associativity needs them.
    need = child.prec < _PREC[op] or (right and child.prec == _PREC[op] and op in "-/")
    return f"({child.text})" if need else child.text


def _combine(left: _Node, op: str, right: _Node) -> _Node:
    value = {
        "+": lambda: left.value + right.value,
        "-": lambda: left.value - right.value,
        "*": lambda: left.value * right.value,
        "/": lambda: left.value / right.value,
    }[op]()
    text = f"{_wrap(left, op, right=False)} {op} {_wrap(right, op, right=True)}"
    return _Node(text=text, value=value, prec=_PREC[op])


def _leaf(value: int) -> _Node:
    return _Node(text=str(value), value=Fraction(value), prec=_LEAF_PREC)


def _tree(rng: random.Random, n: int, level: Level) -> _Node:
    """A random expression with ``n`` operands; ``*`` and ``/`` take one small factor."""
    if n == 1:
        return _leaf(rng.randint(1, level.max_leaf))
    op = rng.choice(level.ops)
    if op in ("+", "-"):
        k = rng.randint(1, n - 1)
        return _combine(_tree(rng, k, level), op, _tree(rng, n - k, level))
    inner = _tree(rng, n - 1, level)
    if op == "/":
        divisors = [d for d in range(2, level.max_factor + 1) if inner.value % d == 0]
        if divisors and inner.value != 0:
            return _combine(inner, "/", _leaf(rng.choice(divisors)))
    factor = _leaf(rng.randint(2, level.max_factor))
    return _combine(inner, "*", factor) if rng.random() < 0.5 else _combine(factor, "*", inner)


def _steps(expr: str) -> tuple[Step, ...]:
    """One step per operation, innermost first, in the order a person would do them."""
    steps: list[Step] = []

    def walk(node: ast.expr) -> Fraction:
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            text = f"{paren(left)} {_AST_OPS[type(node.op)]} {paren(right)}"
            steps.append(Step(text="", expr=text, value=evaluate(text)))
            return steps[-1].value
        return evaluate(ast.unparse(node))

    walk(ast.parse(expr, mode="eval").body)
    return tuple(steps)


class Arithmetic(ProceduralMathTask):
    """Evaluate an integer expression; the level sets its size and operators."""

    name = "arithmetic"
    description = "Integer arithmetic expressions, difficulty 1-5 (procedural)"
    Args = ArithmeticArgs
    integer_answer: ClassVar[bool] = True

    def metadata(self) -> Mapping[str, JSONScalar]:
        return {"source": "procedural", "difficulty": self._level_number()}

    def _level_number(self) -> int:
        return self.typed_args(ArithmeticArgs).difficulty

    def make_item(self, rng: random.Random) -> Item:
        level = LEVELS[self._level_number()]
        while True:  # redraw until the shape matches the level; a few draws at most
            node = _tree(rng, rng.randint(*level.operands), level)
            if ("(" in node.text) == level.parentheses:
                break
        return Item(
            prompt=f"Calculate: {node.text}",
            answer=node.value,
            steps=_steps(node.text),
            claims=(Claim(expr=node.text, value=node.value),),
        )

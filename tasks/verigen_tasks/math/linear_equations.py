"""Linear equations (task ``linear_equations``): solve ``ax + b = cx + d`` for x; the
solution is an integer or a fraction."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import ClassVar

from verigen_tasks.math._common import paren, plain_value
from verigen_tasks.math._procedural import Claim, Item, ProceduralMathTask, Step

_INTEGER_SHARE = 0.6


def _term(coef: int) -> str:
    return {1: "x", -1: "-x"}.get(coef, f"{coef}x")


def _side(coef: int, const: int) -> str:
    """``3x + 5``, ``-x - 2``, ``4x``, ``7``: one side as a person writes it."""
    if coef == 0:
        return str(const)
    if const == 0:
        return _term(coef)
    return f"{_term(coef)} {'+' if const > 0 else '-'} {abs(const)}"


def _solution(rng: random.Random) -> Fraction:
    if rng.random() < _INTEGER_SHARE:
        return Fraction(rng.randint(-12, 12))
    while True:
        den, num = rng.randint(2, 9), rng.randint(-30, 30)
        if num and math.gcd(num, den) == 1:
            return Fraction(num, den)


class LinearEquations(ProceduralMathTask):
    """One linear equation in x with x on both sides."""

    name = "linear_equations"
    description = "Solve ax + b = cx + d for x; integer or fraction solution (procedural)"
    integer_answer: ClassVar[bool] = False

    def make_item(self, rng: random.Random) -> Item:
        x = _solution(rng)
        # a - c is a multiple of x's denominator, so every constant stays an integer.
        k = x.denominator * rng.choice((-4, -3, -2, -1, 1, 2, 3, 4))
        c = rng.randint(-9, 9)
        a = c + k
        if a == 0:
            a, c = k, 0
        b = rng.randint(-20, 20)
        d = int(k * x) + b
        at_x = paren(x)
        return Item(
            prompt=f"Solve for x: {_side(a, b)} = {_side(c, d)}",
            answer=x,
            steps=(
                Step(text="Collect the x terms on the left; the coefficient is",
                     expr=f"{a} - {paren(Fraction(c))}", value=Fraction(k)),
                Step(text="Collect the numbers on the right:", expr=f"{d} - {paren(Fraction(b))}",
                     value=Fraction(d - b)),
                Step(text=f"So {_term(k)} = {d - b}, and x =", expr=f"{d - b}/{paren(Fraction(k))}",
                     value=x, shown=plain_value(x)),
            ),
            # The equation holds at the answer: both sides agree exactly.
            claims=(
                Claim(expr=f"({a})*{at_x} + ({b}) - (({c})*{at_x} + ({d}))", value=Fraction(0)),
            ),
        )

"""Fraction arithmetic (task ``fractions``): add, subtract, multiply or divide two
fractions; the answer is asked for in lowest terms."""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import ClassVar

from verigen_tasks.math._common import plain_value
from verigen_tasks.math._procedural import Claim, Item, ProceduralMathTask, Step

_MAX_DEN = 12
_SYMBOL = {"+": "+", "-": "-", "*": "×", "/": "÷"}
_VERB = {"+": "Add", "-": "Subtract", "*": "Multiply", "/": "Divide"}


def _fraction(rng: random.Random) -> tuple[int, int]:
    """A non-integer fraction as (numerator, denominator), not necessarily reduced."""
    while True:
        den = rng.randint(2, _MAX_DEN)
        num = rng.randint(1, 2 * den)
        if num % den:
            return num, den


def _steps(a: tuple[int, int], op: str, b: tuple[int, int], answer: Fraction) -> tuple[Step, ...]:
    (an, ad), (bn, bd) = a, b
    if op in ("+", "-"):
        den = math.lcm(ad, bd)
        left, right = an * (den // ad), bn * (den // bd)
        return (
            Step(text=f"Common denominator {den}:", expr=f"{an}/{ad} {op} {bn}/{bd}",
                 value=answer, shown=f"{left}/{den} {op} {right}/{den}"),
            Step(text="So", expr=f"({left} {op} {right})/{den}", value=answer,
                 shown=f"{plain_value(answer)} in lowest terms"),
        )
    if op == "*":
        return (Step(text="Multiply the tops and the bottoms:", expr=f"({an} * {bn})/({ad} * {bd})",
                     value=answer, shown=_reduced(an * bn, ad * bd, answer)),)
    return (Step(text="Multiply by the reciprocal:", expr=f"({an}/{ad}) * ({bd}/{bn})",
                 value=answer, shown=_reduced(an * bd, ad * bn, answer)),)


def _reduced(num: int, den: int, answer: Fraction) -> str:
    raw = f"{num}/{den}"
    return raw if raw == plain_value(answer) else f"{raw} = {plain_value(answer)}"


class Fractions(ProceduralMathTask):
    """Two fractions, one operation, the result in lowest terms."""

    name = "fractions"
    description = "Add, subtract, multiply or divide two fractions; lowest terms (procedural)"
    integer_answer: ClassVar[bool] = False

    def make_item(self, rng: random.Random) -> Item:
        a, b = _fraction(rng), _fraction(rng)
        op = rng.choice(("+", "-", "*", "/"))
        expr = f"({a[0]}/{a[1]}) {op} ({b[0]}/{b[1]})"
        answer = {
            "+": Fraction(*a) + Fraction(*b),
            "-": Fraction(*a) - Fraction(*b),
            "*": Fraction(*a) * Fraction(*b),
            "/": Fraction(*a) / Fraction(*b),
        }[op]
        shown = f"{a[0]}/{a[1]} {_SYMBOL[op]} {b[0]}/{b[1]}"
        return Item(
            prompt=f"Calculate {shown}. Give the answer as a fraction in lowest terms.",
            answer=answer,
            steps=_steps(a, op, b, answer),
            claims=(Claim(expr=expr, value=answer),),
            metadata={"operation": _VERB[op].lower()},
        )

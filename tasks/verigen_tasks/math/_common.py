"""Parts shared by every math task: the prompt, the verifier hook, exact arithmetic on
plain expressions, and rendering of exact values as answers.

Nothing here imports SymPy: the verifier is imported inside ``MathTask.verifier``.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction
from typing import TypeVar

from verigen.errors import UsageError
from verigen.task import Task, TaskArgs
from verigen.types import JSONValue
from verigen.verify.base import Verifier
from verigen.verify.math.answer import MathAnswer

# Short on purpose: the default model is a 135M model with a small context.
SYSTEM_PROMPT = (
    "Solve the problem step by step. "
    "Then write the final answer as: The answer is \\boxed{ANSWER}."
)

A = TypeVar("A", bound=TaskArgs)

# Guards against a runaway expression in `evaluate`; our own expressions are tiny.
_MAX_EXPR_CHARS = 2000
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


class MathTask(Task[MathAnswer]):
    """Base of the math tasks: MathAnswer references checked by ``MathVerifier``."""

    family = "math"
    majority_vote = True  # answers compare by equality: maj@k means something
    system_prompt = SYSTEM_PROMPT

    def verifier(self) -> Verifier:
        # Lazy: the verifier pulls in SymPy, which task modules must not import.
        from verigen.verify.math.verifier import MathVerifier

        verifier: Verifier = MathVerifier()
        return verifier

    def decode_reference(self, data: JSONValue) -> MathAnswer:
        return MathAnswer.from_json(data)

    def typed_args(self, kind: type[A]) -> A:
        """``self.args`` as this task's own ``Args`` type (``create_task`` guarantees it)."""
        if not isinstance(self.args, kind):
            raise UsageError(
                f"task {self.name!r} needs {kind.__name__} arguments, "
                f"got {type(self.args).__name__}"
            )
        return self.args


def final_line(answer: str) -> str:
    """The closing sentence of every reference solution."""
    return f"The answer is \\boxed{{{answer}}}."


def latex_value(value: Fraction) -> str:
    """``7``, ``\\frac{3}{4}`` or ``-\\frac{3}{4}``: an exact value as a gold answer."""
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def plain_value(value: Fraction) -> str:
    """``7``, ``3/4``, ``-3/4``: an exact value inside worked steps."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def paren(value: Fraction) -> str:
    """A value as an operand in a step: negatives and fractions in parentheses."""
    text = plain_value(value)
    return f"({text})" if value < 0 or value.denominator != 1 else text


def evaluate(expr: str) -> Fraction:
    """The exact value of a plain arithmetic expression (integers, + - * /, parentheses).

    Used by generators to prove their own problems; it walks the AST and never calls
    ``eval``. Anything else (names, calls, powers, floats) raises ``UsageError``.
    """
    if len(expr) > _MAX_EXPR_CHARS:
        raise UsageError(f"expression too long to evaluate ({len(expr)} chars)")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"not a plain arithmetic expression: {expr!r} ({exc.msg})") from None
    return _eval_node(tree.body, expr)


def _eval_node(node: ast.expr, expr: str) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _eval_node(node.operand, expr)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _eval_node(node.left, expr), _eval_node(node.right, expr)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise UsageError(f"division by zero in {expr!r}")
            return left / right
    raise UsageError(f"unsupported element {ast.dump(node)[:60]} in {expr!r}")


def plain_gold_value(text: str) -> Fraction | None:
    """The exact value of a gold answer written as an integer, ``a/b`` or ``\\frac{a}{b}``
    (optionally negative, with thousands separators); None for anything else."""
    # Only thousands separators go: "(1, 2)" is a tuple, not 12.
    cleaned = _THOUSANDS_RE.sub("", text.strip()).replace("\\dfrac", "\\frac").replace(" ", "")
    if cleaned.startswith("\\frac{") or cleaned.startswith("-\\frac{"):
        sign = -1 if cleaned.startswith("-") else 1
        body = cleaned.removeprefix("-").removeprefix("\\frac{")
        num, sep, rest = body.partition("}{")
        if not sep or not rest.endswith("}"):
            return None
        cleaned = f"{'-' if sign < 0 else ''}({num})/({rest[:-1]})"
    if not cleaned or any(ch not in "0123456789-/()" for ch in cleaned):  # also rejects ","
        return None
    try:
        return evaluate(cleaned)
    except UsageError:
        return None

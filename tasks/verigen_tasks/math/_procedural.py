"""The machinery behind the procedural math generators.

A generator turns a ``random.Random`` into an ``Item``: the prompt, the exact answer, the
worked steps and the claims that prove it. Items are a pure function of
(task, split, seed, index): the rng is ``random.Random(f"{task}/{split}:{seed}:{index}")``.
Train and test cannot share a problem: a prompt belongs to the split chosen by a hash of
its text, and each split keeps drawing until it gets one of its own.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import ClassVar

from pydantic import Field

from verigen.errors import InfrastructureError, UsageError
from verigen.task import TaskArgs
from verigen.types import JSONScalar, Problem
from verigen.verify.math.answer import MathAnswer
from verigen_tasks.math._common import MathTask, evaluate, final_line, latex_value, plain_value

log = logging.getLogger(__name__)

# Drawing stops after this many tries for one index (a split-hash miss or a trivial
# answer costs one try; the chance of 64 misses in a row is negligible).
_MAX_TRIES = 64
# problems() gives up when duplicates keep coming (a tiny problem space, a huge count).
_DUPLICATE_SLACK = 20
# Answers too easy to guess by accident: a generator never emits them, so a self-check
# can always require that they are rejected.
TRIVIAL_ANSWERS = (Fraction(0), Fraction(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """``expr`` (plain arithmetic, see ``evaluate``) must equal ``value`` exactly."""

    expr: str
    value: Fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One line of a worked solution: ``{text} {expr} = {value}``; also a claim."""

    text: str
    expr: str
    value: Fraction
    shown: str = ""  # how the result is written in the text; plain_value(value) if empty

    def render(self) -> str:
        shown = self.shown or plain_value(self.value)
        if shown == self.expr:
            return f"{self.text} {shown}".strip()
        return f"{self.text} {self.expr} = {shown}".strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One generated problem before it becomes a ``Problem``."""

    prompt: str
    answer: Fraction
    steps: tuple[Step, ...]
    claims: tuple[Claim, ...] = ()
    metadata: Mapping[str, JSONScalar] = field(default_factory=dict)

    def solution(self) -> str:
        lines = [step.render() for step in self.steps]
        lines.append(final_line(latex_value(self.answer)))
        return "\n".join(lines)


class CountArgs(TaskArgs):
    """``count``: how many problems a split yields."""

    count: int = Field(default=100, ge=1, le=1_000_000)


def split_of(prompt: str) -> str:
    """The split a prompt belongs to, fixed by its text alone."""
    return "train" if hashlib.sha256(prompt.encode()).digest()[0] % 2 == 0 else "test"


def prove(item: Item, *, integer_answer: bool) -> str | None:
    """Why ``item`` is wrong, or None when every claim and step checks out exactly."""
    for claim in (*item.claims, *(Claim(expr=s.expr, value=s.value) for s in item.steps)):
        try:
            got = evaluate(claim.expr)
        except UsageError as exc:
            return f"claim {claim.expr!r} does not evaluate: {exc}"
        if got != claim.value:
            return f"claim {claim.expr!r} = {got}, not {claim.value}"
    if item.steps and item.steps[-1].value != item.answer:
        return f"last step gives {item.steps[-1].value}, answer is {item.answer}"
    if integer_answer and item.answer.denominator != 1:
        return f"answer {item.answer} is not an integer"
    return None


class ProceduralMathTask(MathTask):
    """A math task whose problems come from ``make_item``; ``Args`` must have ``count``."""

    Args = CountArgs
    splits = ("train", "test")
    integer_answer: ClassVar[bool] = True

    @abc.abstractmethod
    def make_item(self, rng: random.Random) -> Item:
        """One candidate item; may be trivial (it is then redrawn from the same rng)."""

    def metadata(self) -> Mapping[str, JSONScalar]:
        """Metadata shared by every problem of this task instance."""
        return {"source": "procedural"}

    def item(self, *, split: str, seed: int, index: int) -> Item:
        """The item at ``index``: a pure function of (task, args, split, seed, index)."""
        rng = random.Random(f"{self.name}/{split}:{seed}:{index}")
        for _ in range(_MAX_TRIES):
            item = self.make_item(rng)
            if item.answer in TRIVIAL_ANSWERS or split_of(item.prompt) != split:
                continue
            why = prove(item, integer_answer=self.integer_answer)
            if why is not None:
                # A wrong item is a bug in the generator, never something to skip quietly.
                raise InfrastructureError(f"{self.name}: generated a wrong problem: {why}")
            return item
        raise InfrastructureError(f"{self.name}: no usable problem in {_MAX_TRIES} draws")

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[MathAnswer]]:
        self.check_split(split)
        count = self.typed_args(CountArgs).count
        seen: set[str] = set()
        index = 0
        while len(seen) < count:
            if index >= count * _DUPLICATE_SLACK + 100:
                log.warning("%s: only %d distinct problems found for count=%d",
                            self.name, len(seen), count)
                return
            item = self.item(split=split, seed=seed, index=index)
            if item.prompt not in seen:
                seen.add(item.prompt)
                yield Problem(
                    id=f"{self.name}/{split}/s{seed}/i{index}",
                    task=self.name,
                    prompt=item.prompt,
                    reference=MathAnswer(text=latex_value(item.answer)),
                    metadata={**self.metadata(), **item.metadata},
                )
            index += 1

    def reference_solution(self, problem: Problem[MathAnswer]) -> str | None:
        """The worked steps, regenerated from the id; None for a problem this instance
        (with its args) did not generate."""
        match = re.fullmatch(rf"{re.escape(self.name)}/(train|test)/s(-?\d+)/i(\d+)", problem.id)
        if match is None:
            return None
        item = self.item(split=match[1], seed=int(match[2]), index=int(match[3]))
        return item.solution() if item.prompt == problem.prompt else None

"""Self-checks: every math problem must prove itself against the real verifier.

A problem passes when its reference solution is ACCEPTED, trivial answers (empty text,
``0``, ``1``, the gold value plus one) are not, and its reference survives a JSON round
trip. ``python -m verigen_tasks.math.selfcheck arithmetic --limit 50`` checks a task.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from verigen.task import Task, TaskContext, create_task, parse_task_args
from verigen.types import Outcome, Problem
from verigen.verify.base import Verifier
from verigen.verify.math.answer import MathAnswer
from verigen_tasks.math._common import final_line, latex_value, plain_gold_value

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfCheck:
    """The outcome of checking one problem: ``failures`` is empty when it proved itself."""

    problem_id: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def wrong_answers(gold: str) -> tuple[str, ...]:
    """Answers that must never be accepted for ``gold``: 0, 1 and gold + 1 where the gold
    value is a plain number (values equal to the gold are left out)."""
    # "b=0" means 0: a named value is still a number whose trivial neighbours differ.
    value = plain_gold_value(re.sub(r"^\s*[a-zA-Z]\s*=", "", gold))
    candidates = [Fraction(0), Fraction(1)]
    if value is not None:
        candidates.append(value + 1)
    kept = dict.fromkeys(c for c in candidates if value is None or c != value)  # ordered, unique
    return tuple(latex_value(c) for c in kept)


def self_check(
    task: Task[MathAnswer], problem: Problem[MathAnswer], verifier: Verifier
) -> SelfCheck:
    """Check ``problem`` of ``task`` with ``verifier`` (see the module docstring)."""
    failures: list[str] = []
    reference = task.reference_solution(problem)
    if reference is None:
        failures.append("no reference solution")
    else:
        verdict = verifier.verify(problem, reference)
        if verdict.outcome is not Outcome.ACCEPTED:
            failures.append(f"reference solution {verdict.outcome.value}: {verdict.detail}")
    empty = verifier.verify(problem, "")
    if empty.outcome not in (Outcome.NO_ANSWER, Outcome.REJECTED):
        failures.append(f"empty completion gave {empty.outcome.value}")
    for wrong in wrong_answers(problem.reference.text):
        verdict = verifier.verify(problem, final_line(wrong))
        if verdict.outcome not in (Outcome.REJECTED, Outcome.NO_ANSWER):
            failures.append(f"wrong answer {wrong!r} gave {verdict.outcome.value}")
    encoded = json.dumps(task.encode_reference(problem.reference))
    decoded = task.decode_reference(json.loads(encoded))
    if decoded != problem.reference:
        failures.append(f"JSON round trip changed {problem.reference!r} into {decoded!r}")
    return SelfCheck(problem_id=problem.id, failures=tuple(failures))


def check_task(
    task: Task[MathAnswer], *, split: str, seed: int = 0, limit: int = 50
) -> list[SelfCheck]:
    """Self-check the first ``limit`` problems of ``split``."""
    verifier = task.verifier()
    try:
        problems = itertools.islice(task.problems(split=split, seed=seed), limit)
        return [self_check(task, problem, verifier) for problem in problems]
    finally:
        verifier.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: exit 0 when every checked problem proved itself, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--task-arg", action="append", default=[])
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ctx = TaskContext.from_env(data_dir=ns.data_dir)
    task = create_task(ns.task, parse_task_args(ns.task_arg), ctx)
    results = check_task(task, split=ns.split, seed=ns.seed, limit=ns.limit)  # type: ignore[arg-type]
    bad = [r for r in results if not r.ok]
    for result in bad:
        log.error("%s: %s", result.problem_id, "; ".join(result.failures))
    log.info("%s/%s: %d of %d problems proved themselves", ns.task, ns.split,
             len(results) - len(bad), len(results))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

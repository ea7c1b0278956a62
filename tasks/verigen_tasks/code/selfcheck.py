"""Self-checks for the code and puzzle tasks: every reference ACCEPTED, trivial answers not.

For P3 every ``sol_bodies`` entry is a reference. Trivial answers (empty text, ``pass``,
``return None``, a stub of the entry point, ``def sol(): return 0``) must come back
REJECTED or NO_ANSWER. ``python -m verigen_tasks.code.selfcheck humaneval --sandbox bwrap``
checks a task and prints one line per failing problem and a summary.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from verigen.task import Task, TaskContext, create_task, parse_task_args
from verigen.types import Outcome, Problem
from verigen.verify.base import Verifier
from verigen.verify.code import TestSuite
from verigen.verify.puzzle import Puzzle
from verigen_tasks.code._common import fenced

log = logging.getLogger(__name__)
_NOT_ACCEPTED = (Outcome.REJECTED, Outcome.NO_ANSWER, Outcome.TIMEOUT)


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfCheck:
    """One problem's check: ``failures`` is empty when it proved itself."""

    problem_id: str
    references: int  # references checked (0: none known)
    accepted: int  # of those, ACCEPTED
    errors: int  # ERROR verdicts (infrastructure, not the problem's fault)
    failures: tuple[str, ...]
    # P3 puzzles that a constant answer (``return 0``) really solves: sat(0) is True, so
    # ACCEPTED is the right verdict there, reported apart from failures.
    trivially_solved: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures


def references(task: Task[object], problem: Problem[object]) -> tuple[str, ...]:
    """Every known-good completion: all P3 bodies, else the task's reference solution."""
    ref = problem.reference
    if isinstance(ref, Puzzle):
        bodies = (ref.reference(i) for i in range(len(ref.sol_bodies)))
        return tuple(fenced(b) for b in bodies if b is not None)
    one = task.reference_solution(problem)
    return () if one is None else (one,)


CONSTANT_ANSWER = "def sol():\n    return 0\n"


def trivial_answers(problem: Problem[object]) -> tuple[str, ...]:
    """Completions that must not be accepted for ``problem`` (for a puzzle,
    ``CONSTANT_ANSWER`` may be a real solution: see ``SelfCheck.trivially_solved``)."""
    ref = problem.reference
    base = ["", "   \n", "pass", "    return None\n", "import sys\nsys.exit(0)\n"]
    if isinstance(ref, Puzzle):
        return (*base, "def sol():\n    return None\n", CONSTANT_ANSWER)
    if isinstance(ref, TestSuite) and ref.entry_point:
        ep = ref.entry_point
        stub = f"def {ep}(*args, **kwargs):\n    return None\n"
        return (*base, stub, fenced(f"def {ep}(*args, **kwargs):\n    pass\n"))
    return tuple(base)


def self_check(task: Task[object], problem: Problem[object], verifier: Verifier,
               *, check_trivial: bool = True) -> SelfCheck:
    """Check one problem (see the module docstring)."""
    failures: list[str] = []
    refs = references(task, problem)
    accepted = errors = 0
    for i, ref in enumerate(refs):
        verdict = verifier.verify(problem, ref)
        if verdict.outcome is Outcome.ACCEPTED:
            accepted += 1
        else:
            errors += verdict.outcome is Outcome.ERROR
            failures.append(f"reference {i}: {verdict.outcome.value}: {verdict.detail[:160]}")
    solved: list[str] = []
    for text in trivial_answers(problem) if check_trivial else ():
        verdict = verifier.verify(problem, text)
        errors += verdict.outcome is Outcome.ERROR
        if verdict.outcome is Outcome.ACCEPTED and text == CONSTANT_ANSWER:
            solved.append(text)
        elif verdict.outcome not in _NOT_ACCEPTED:
            failures.append(f"trivial {text!r}: {verdict.outcome.value}")
    return SelfCheck(problem_id=problem.id, references=len(refs), accepted=accepted,
                     errors=errors, failures=tuple(failures), trivially_solved=tuple(solved))


def check_all(task: Task[object], problems: Iterable[Problem[object]], verifier: Verifier,
              *, workers: int = 2, check_trivial: bool = True) -> list[SelfCheck]:
    """``self_check`` over many problems on ``workers`` threads (order kept)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: self_check(task, p, verifier, check_trivial=check_trivial),
                             problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("task")
    parser.add_argument("--split", default="test")
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--task-arg", action="append", default=[])
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    task = create_task(opts.task, parse_task_args(opts.task_arg), TaskContext.from_env(sandbox=opts.sandbox))
    problems = list(task.problems(split=opts.split, seed=0))[: opts.limit]
    verifier = task.verifier()
    started = time.monotonic()
    try:
        checks = check_all(task, problems, verifier, workers=opts.workers)
    finally:
        verifier.close()
    for check in checks:
        if not check.ok:
            sys.stdout.write(f"{check.problem_id}: {'; '.join(check.failures)}\n")
    refs = sum(c.references for c in checks)
    ok = sum(c.accepted for c in checks)
    sys.stdout.write(f"{opts.task}/{opts.split}: references accepted {ok}/{refs}, problems ok "
                     f"{sum(c.ok for c in checks)}/{len(checks)}, {time.monotonic() - started:.1f}s\n")
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())

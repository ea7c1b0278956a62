"""Self-checks for any task: every problem proves itself before anything is sampled.

A problem passes when its reference solution is ACCEPTED by the task's own verifier, an
empty completion is not, and its reference survives a JSON round trip. A problem without a
known reference is reported as unproved (not a failure: some benchmarks ship none). This is
``verigen tasks check NAME``, and what a plugin's own tests call.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from verigen.guarded import task_verifier
from verigen.task import Task
from verigen.types import Outcome, Problem, Verdict
from verigen.verify.pool import open_pool, verify_all


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemCheck:
    """The self-check of one problem."""

    problem_id: str
    split: str
    source: str  # where the problem came from (a data file's file:line), or ""
    reference: Verdict | None  # None: no reference solution is known
    empty: Verdict
    round_trip: str | None = None  # what a JSON round trip changed, or None

    @property
    def failures(self) -> tuple[str, ...]:
        out = []
        if self.reference is not None and self.reference.outcome is not Outcome.ACCEPTED:
            what = "error (infrastructure)" if self.reference.outcome is Outcome.ERROR else self.reference.outcome.value
            out.append(f"reference {what}: {self.reference.detail}")
        if self.empty.outcome is Outcome.ACCEPTED:
            out.append("an empty completion is accepted")
        if self.round_trip is not None:
            out.append(self.round_trip)
        return tuple(out)

    @property
    def ok(self) -> bool:
        return not self.failures


def _round_trip(task: Task[object], problem: Problem[object]) -> str | None:
    try:
        decoded = task.decode_reference(json.loads(json.dumps(task.encode_reference(problem.reference))))
    except Exception as exc:
        return f"reference JSON round trip raised {type(exc).__name__}: {exc}"
    return None if decoded == problem.reference else "reference JSON round trip is lossy"


def check_problems(
    task: Task[object], problems: Iterable[tuple[str, Problem[object]]], *, workers: int = 2,
    time_limit_s: float | None = None,
) -> Iterator[ProblemCheck]:
    """Check (split, problem) pairs with the task's own (guarded) verifier, in order."""
    items = list(problems)
    refs = [task.reference_solution(p) for _, p in items]
    jobs = [(p, text) for (_, p), ref in zip(items, refs) for text in ((ref,) if ref is not None else ()) + ("",)]
    verifier = task_verifier(task)
    pool = open_pool(verifier, workers=workers, time_limit_s=time_limit_s)
    try:
        verdicts = verify_all(pool, jobs)
        for (split, problem), ref in zip(items, refs):
            ref_verdict = next(verdicts) if ref is not None else None
            yield ProblemCheck(
                problem_id=problem.id, split=split, source=str(problem.metadata.get("source") or ""),
                reference=ref_verdict, empty=next(verdicts), round_trip=_round_trip(task, problem),
            )
    finally:
        pool.close()
        verifier.close()


def task_problems(task: Task[object], *, splits: Iterable[str], seed: int, limit: int | None) -> Iterator[tuple[str, Problem[object]]]:
    """The first ``limit`` problems of each split (all with None), tagged with the split."""
    for split in splits:
        task.check_split(split)
        for problem in itertools.islice(task.problems(split=split, seed=seed), limit):
            yield split, problem

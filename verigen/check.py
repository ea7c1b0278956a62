"""``verigen check``: verdicts without sampling, always through a bounded verifier pool."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.selfplay import NearDuplicates, PuzzleAdmission, PuzzleVerdict, fingerprint
from verigen.task import TaskContext, create_task
from verigen.types import Outcome, Problem, Verdict
from verigen.verify.pool import ProcessVerifyPool, open_pool, verify_all


def _math_problem(reference: str, index: int = 0) -> Problem[Any]:
    from verigen.verify.math.answer import MathAnswer

    return Problem(id=f"check/{index}", task="check", prompt="", reference=MathAnswer(text=reference))


def _math_pool(workers: int, time_limit_s: float) -> ProcessVerifyPool:
    from verigen.verify.math import MathVerifier

    verifier = MathVerifier(time_limit_s=time_limit_s)
    return ProcessVerifyPool(verifier, workers=workers, time_limit_s=time_limit_s)


def check_math_one(reference: str, answer: str, *, time_limit_s: float) -> Verdict:
    pool = _math_pool(1, time_limit_s)
    try:
        return pool.submit(_math_problem(reference), answer).result()
    finally:
        pool.close()


def _read_pairs(path: Path) -> list[dict[str, Any]]:
    """Every row, validated before any verification or output starts."""
    rows: list[dict[str, Any]] = []
    for lineno, row in read_jsonl(path):
        for key in ("reference", "answer"):
            value = row.get(key)
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise UsageError(f"{path}:{lineno}: field {key!r} must be a string or number, got {value!r}")
        rows.append(row)
    return rows


def check_math_batch(path: Path, output: Path | None, *, workers: int, time_limit_s: float) -> dict[str, int]:
    """Verify every (reference, answer) row; write each row back with outcome and detail."""
    rows = _read_pairs(path)
    counts: Counter[str] = Counter()
    pool = _math_pool(workers, time_limit_s)
    tmp = output.with_name(f".{output.name}.tmp") if output is not None else None
    try:
        sink = open(tmp, "w", encoding="utf-8") if tmp is not None else sys.stdout
        try:
            jobs = ((_math_problem(str(r["reference"]), i), str(r["answer"])) for i, r in enumerate(rows))
            for row, verdict in zip(rows, verify_all(pool, jobs)):
                counts[verdict.outcome.value] += 1
                sink.write(json.dumps({**row, "outcome": verdict.outcome.value, "detail": verdict.detail}, ensure_ascii=False) + "\n")
        finally:
            if sink is not sys.stdout:
                sink.close()
        if tmp is not None and output is not None:
            os.replace(tmp, output)
    finally:
        pool.close()
        if tmp is not None and tmp.exists():
            tmp.unlink()
    return {o.value: counts[o.value] for o in Outcome}


def check_task_problem(
    task_name: str,
    problem_id: str,
    answer: str,
    *,
    task_args: dict[str, str],
    split: str | None,
    seed: int,
    data_dir: Path | None,
    sandbox: str,
) -> Verdict:
    ctx = TaskContext.from_env(data_dir, sandbox)
    task = create_task(task_name, task_args, ctx)
    splits = [split] if split else list(task.splits)
    for s in splits:
        task.check_split(s)
        for problem in task.problems(split=s, seed=seed):
            if problem.id == problem_id:
                verifier = task.verifier()
                pool = open_pool(verifier, workers=1)
                try:
                    return pool.submit(problem, answer).result()
                finally:
                    pool.close()
                    verifier.close()
    raise UsageError(f"task {task_name!r} has no problem {problem_id!r} in split(s) {', '.join(splits)}")


def check_puzzle(
    puzzle_text: str,
    solutions: list[str],
    *,
    sandbox: str,
    data_dir: Path | None,
    name: str = "Puzzle:0",
) -> tuple[PuzzleVerdict, str]:
    """The self-play admission verdict (``verigen.selfplay.PuzzleVerdict``) of one
    model-written puzzle and its candidate solutions, and a note on the near-duplicate
    check against the P3 test families (skipped, and said so, without P3 data)."""
    admission = PuzzleAdmission(sandbox=sandbox)
    try:
        screened = admission.screen(name, puzzle_text)
        if screened.verdict is not None or screened.puzzle is None:
            return screened.verdict or PuzzleVerdict(status="drop", stage="parse", reason="no puzzle"), ""
        if not solutions:
            verdict = PuzzleVerdict(status="drop", stage="solve", puzzle=screened.puzzle,
                                    reason="no solution given (--solution SOL.py): a puzzle is kept only with a verified one")
            return verdict, ""
        [verdict] = admission.judge([screened.puzzle], [solutions])
    finally:
        admission.close()
    if verdict.status != "keep":
        return verdict, ""
    index = NearDuplicates()
    try:
        task = create_task("p3", {}, TaskContext.from_env(data_dir, sandbox))
        test = [p.reference for p in task.problems(split="test", seed=0)]
    except UsageError as exc:
        return verdict, f"not checked against the P3 test families: {exc}"
    for ref in test:
        fp = fingerprint(getattr(ref, "sat", ""))
        if fp is not None:
            index.add(f"p3 test puzzle {getattr(ref, 'name', '?')}", fp)
    mine = fingerprint(verdict.puzzle.sat) if verdict.puzzle else None
    hit = index.match(mine) if mine is not None else None
    if hit is not None:
        return PuzzleVerdict(status="drop", stage="duplicate", reason=f"near-duplicate of {hit[0]} (overlap {hit[1]:.2f})",
                             puzzle=verdict.puzzle, attempts=verdict.attempts, accepted=verdict.accepted), ""
    return verdict, f"checked against {len(index)} P3 test puzzles"

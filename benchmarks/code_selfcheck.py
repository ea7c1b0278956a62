"""Self-check of the code and puzzle verifiers on real benchmark data, per sandbox backend.

For every task it verifies every reference solution (all P3 ``sol_bodies``) and a set of
trivial answers, and prints accepted/total references, problems that proved themselves,
the ERROR count and wall time. It also times stdin/stdout cases (one sandbox run each).

    .venv/bin/python benchmarks/code_selfcheck.py --backends bwrap docker

Data: ``--data-dir`` or VERIGEN_DATA_DIR or ../shared/data. References that cannot be
verified within the limits (``verigen_tasks.code.p3.KNOWN_UNVERIFIABLE``) are reported
with their reason, not hidden.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from verigen_tasks.code.p3 import KNOWN_UNVERIFIABLE
from verigen_tasks.code.selfcheck import check_all

from verigen.errors import UsageError
from verigen.sandbox.types import ExecRequest, Limits
from verigen.task import TaskContext, create_task

REPO = Path(__file__).resolve().parents[1]

# (task, split, task args, check trivial answers)
RUNS: tuple[tuple[str, str, dict[str, object], bool], ...] = (
    ("humaneval", "test", {}, True),
    ("mbpp", "test", {}, True),
    ("mbpp", "train", {}, False),
    ("mbpp", "validation", {}, False),
    ("mbpp", "prompt", {}, False),
    ("mbpp", "test", {"variant": "sanitized"}, False),
    ("apps", "test", {}, True),
    ("apps", "test", {"file": "apps/selected150.jsonl"}, True),
    ("p3", "train", {}, True),
    ("p3", "test", {}, True),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    backend: str
    label: str
    accepted: int
    references: int
    ok: int
    problems: int
    errors: int
    trivially_solved: int  # puzzles that `return 0` really solves (sat(0) is True)
    wall_s: float
    failing: tuple[str, ...]


def run_one(backend: str, data: Path, task_name: str, split: str, args: dict[str, object],
            trivial: bool, workers: int, limit: int | None) -> Line:
    task = create_task(task_name, args, TaskContext(data_dir=data, sandbox=backend))
    problems = list(task.problems(split=split, seed=0))[:limit]
    verifier = task.verifier()
    started = time.monotonic()
    try:
        checks = check_all(task, problems, verifier, workers=workers, check_trivial=trivial)
    finally:
        verifier.close()
    label = f"{task_name}/{split}" + "".join(f" {k}={v}" for k, v in args.items())
    return Line(
        backend=backend, label=label, accepted=sum(c.accepted for c in checks),
        references=sum(c.references for c in checks), ok=sum(c.ok for c in checks),
        problems=len(checks), errors=sum(c.errors for c in checks),
        trivially_solved=sum(bool(c.trivially_solved) for c in checks),
        wall_s=time.monotonic() - started,
        failing=tuple(f"{c.problem_id}: {c.failures[0]}" for c in checks if not c.ok),
    )


def stdio_case_cost(backend: str, cases: int = 64) -> float:
    """Seconds per stdin/stdout case (one sandbox run each, run_many batches)."""
    from verigen.sandbox.select import open_sandbox

    with open_sandbox(backend) as sandbox:
        reqs = [ExecRequest(code="print(sum(map(int, input().split())))", stdin=b"1 2\n",
                            limits=Limits(timeout_s=5)) for _ in range(cases)]
        sandbox.run_many(reqs[:4])  # warm
        started = time.monotonic()
        sandbox.run_many(reqs)
        return (time.monotonic() - started) / cases


def main() -> int:
    parser = argparse.ArgumentParser(description="code verifier self-check")
    parser.add_argument("--backends", nargs="+", default=["bwrap", "docker"])
    parser.add_argument("--tasks", nargs="+", default=None, help="only these task names")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--limit", type=int, default=None, help="problems per task (default all)")
    opts = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = opts.data_dir or TaskContext.from_env().data_dir or REPO.parent / "shared" / "data"
    out = sys.stdout
    for backend in opts.backends:
        try:
            per_case = stdio_case_cost(backend)
        except UsageError as exc:
            out.write(f"[{backend}] unavailable: {exc}\n")
            continue
        out.write(f"[{backend}] stdio: {per_case * 1000:.1f} ms per case (one sandbox run each)\n")
        for task_name, split, args, trivial in RUNS:
            if opts.tasks and task_name not in opts.tasks:
                continue
            line = run_one(backend, data, task_name, split, args, trivial, opts.workers, opts.limit)
            out.write(f"[{backend}] {line.label}: references accepted {line.accepted}/{line.references}, "
                      f"problems ok {line.ok}/{line.problems}, errors {line.errors}, "
                      f"solved by `return 0`: {line.trivially_solved}, {line.wall_s:.1f}s\n")
            for fail in line.failing:
                known = KNOWN_UNVERIFIABLE.get(fail.split(": ", 1)[0].removeprefix("p3/"))
                out.write(f"    {fail[:200]}" + (f" [known: {known}]" if known else "") + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

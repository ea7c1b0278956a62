"""Every math task's problems prove themselves against the real MathVerifier."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from verigen_tasks.math.selfcheck import SelfCheck, check_task, main, self_check, wrong_answers

from verigen.task import TaskContext, create_task
from verigen.types import Outcome, Problem
from verigen.verify.math.answer import MathAnswer

GENERATORS = ("arithmetic", "fractions", "linear_equations", "word_problems")


def _failures(results: list[SelfCheck]) -> list[str]:
    return [f"{r.problem_id}: {'; '.join(r.failures)}" for r in results if not r.ok]


@pytest.mark.parametrize("name", GENERATORS)
def test_generated_problems_prove_themselves(name: str) -> None:
    task = create_task(name, {"count": 50}, TaskContext())
    results = check_task(task, split="test", seed=7, limit=50)  # type: ignore[arg-type]
    assert len(results) == 50
    assert _failures(results) == []


@pytest.mark.parametrize("difficulty", [1, 5])
def test_arithmetic_extreme_levels_prove_themselves(difficulty: int) -> None:
    task = create_task("arithmetic", {"difficulty": difficulty, "count": 20}, TaskContext())
    assert _failures(check_task(task, split="train", limit=20)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "split"), [("gsm8k", "test"), ("math", "train"), ("math500", "test")]
)
def test_dataset_reference_solutions_are_accepted(shared_data: Path, name: str, split: str) -> None:
    task = create_task(name, {}, TaskContext(data_dir=shared_data))
    verifier = task.verifier()
    problems = list(itertools.islice(task.problems(split=split, seed=0), 50))
    assert len(problems) == 50
    rejected = []
    for problem in problems:
        solution = task.reference_solution(problem)
        verdict = verifier.verify(problem, solution or "")
        if verdict.outcome is not Outcome.ACCEPTED:
            rejected.append(f"{problem.id}: {verdict.outcome.value} {verdict.detail}")
    assert rejected == []


def test_dataset_problems_pass_the_full_self_check(shared_data: Path) -> None:
    task = create_task("math500", {}, TaskContext(data_dir=shared_data))
    assert _failures(check_task(task, split="test", limit=20)) == []  # type: ignore[arg-type]


def test_self_check_catches_a_wrong_reference() -> None:
    task = create_task("arithmetic", {"count": 1}, TaskContext())
    problem = next(iter(task.problems(split="train", seed=0)))
    wrong_gold = int(problem.reference.text) + 5  # type: ignore[attr-defined]
    broken: Problem[MathAnswer] = Problem(
        id=problem.id, task=problem.task, prompt=problem.prompt,
        reference=MathAnswer(text=str(wrong_gold)),
    )
    result = self_check(task, broken, task.verifier())  # type: ignore[arg-type]
    assert not result.ok
    assert any("reference solution rejected" in f for f in result.failures)


@pytest.mark.parametrize(
    ("gold", "wrong"),
    [
        ("5", ("0", "1", "6")),
        ("0", ("1",)),
        ("1", ("0", "2")),
        ("-\\frac{3}{4}", ("0", "1", "\\frac{1}{4}")),
        ("b=0", ("1",)),  # MATH test/geometry/186.json boxes "b=0"
        ("x = 2", ("0", "1", "3")),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", ("0", "1")),
    ],
)
def test_wrong_answers(gold: str, wrong: tuple[str, ...]) -> None:
    assert wrong_answers(gold) == wrong


def test_selfcheck_command_line(shared_data: Path) -> None:
    assert main(["fractions", "--limit", "5", "--task-arg", "count=5"]) == 0
    assert main(["gsm8k", "--limit", "5", "--data-dir", str(shared_data)]) == 0

"""The procedural math generators: reproducible, split-disjoint, self-proving."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pytest
from verigen_tasks.math._common import evaluate, latex_value, plain_gold_value
from verigen_tasks.math._procedural import Item, ProceduralMathTask, Step

from verigen.errors import InfrastructureError, UsageError
from verigen.task import Task, TaskContext, create_task, list_tasks
from verigen.types import Problem
from verigen.verify.math.answer import MathAnswer

GENERATORS = ("arithmetic", "fractions", "linear_equations", "word_problems")
CTX = TaskContext()


def _task(name: str, args: Mapping[str, object] | None = None) -> Task[object]:
    return create_task(name, dict(args or {"count": 40}), CTX)


def _problems(task: Task[Any], split: str = "train", seed: int = 0) -> list[Problem[Any]]:
    return list(task.problems(split=split, seed=seed))


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_problems(name: str) -> None:
    first, second = _problems(_task(name)), _problems(_task(name))
    assert first == second
    assert len(first) == 40


@pytest.mark.parametrize("name", GENERATORS)
def test_different_seeds_differ(name: str) -> None:
    a = {p.prompt for p in _problems(_task(name), seed=0)}
    b = {p.prompt for p in _problems(_task(name), seed=1)}
    assert a != b


@pytest.mark.parametrize("name", GENERATORS)
def test_train_and_test_are_disjoint(name: str) -> None:
    task = _task(name, {"count": 200})
    train, test = _problems(task, "train"), _problems(task, "test")
    assert not {p.prompt for p in train} & {p.prompt for p in test}
    assert all("/train/" in p.id for p in train) and all("/test/" in p.id for p in test)


@pytest.mark.parametrize("name", GENERATORS)
def test_ids_and_prompts_unique_and_metadata_small(name: str) -> None:
    problems = _problems(_task(name, {"count": 150}))
    assert len({p.id for p in problems}) == len(problems) == 150
    assert len({p.prompt for p in problems}) == 150
    assert problems[0].id == f"{name}/train/s0/i0"
    for problem in problems:
        assert problem.task == name
        assert problem.metadata["source"] == "procedural"
        assert all(isinstance(v, (str, int, float, bool)) for v in problem.metadata.values())


@pytest.mark.parametrize("name", GENERATORS)
def test_reference_solution_ends_with_gold_and_no_trivial_answers(name: str) -> None:
    task = _task(name, {"count": 60})
    for problem in _problems(task, "test"):
        assert isinstance(problem.reference, MathAnswer)
        solution = task.reference_solution(problem)
        assert solution is not None
        assert solution.endswith(f"The answer is \\boxed{{{problem.reference.text}}}.")
        assert solution.count("\\boxed") == 1
        assert plain_gold_value(problem.reference.text) not in (Fraction(0), Fraction(1), None)


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4, 5])
def test_arithmetic_levels(difficulty: int) -> None:
    task = _task("arithmetic", {"difficulty": difficulty, "count": 30})
    for problem in _problems(task):
        expr = problem.prompt.removeprefix("Calculate: ")
        value = evaluate(expr)
        assert value.denominator == 1
        assert latex_value(value) == problem.reference.text
        assert ("(" in expr) == (difficulty >= 4)
        assert ("*" in expr or "/" in expr) <= (difficulty >= 3)
        assert problem.metadata["difficulty"] == difficulty


def test_arithmetic_harder_levels_are_longer() -> None:
    lengths = [
        sum(len(p.prompt) for p in _problems(_task("arithmetic", {"difficulty": d, "count": 30})))
        for d in (1, 3, 5)
    ]
    assert lengths == sorted(lengths) and lengths[0] < lengths[2]


def test_fractions_answers_are_lowest_terms_and_exact() -> None:
    for problem in _problems(_task("fractions", {"count": 60})):
        shown = problem.prompt.removeprefix("Calculate ").split(". Give")[0]
        expr = shown.replace("×", "*").replace("÷", "/")
        left, op, right = expr.split(" ")
        value = evaluate(f"({left}) {op} ({right})")
        assert plain_gold_value(problem.reference.text) == value
        assert problem.reference.text == latex_value(value)


def _side_value(side: str, x: Fraction) -> Fraction:
    """``-3x + 5`` at x, read independently of the generator's own rendering code."""
    match = re.fullmatch(r"(?:(-?\d*)x)?(?:\s*([+-])?\s*(\d+))?", side)
    assert match is not None and side, side
    coef_text, sign, const_text = match.groups()
    if coef_text is None:
        coef = 0
    else:
        coef = int(coef_text) if coef_text not in ("", "-") else int(f"{coef_text}1")
    const = int(const_text or 0) * (-1 if sign == "-" else 1)
    return coef * x + const


def test_linear_equations_solution_satisfies_equation() -> None:
    for problem in _problems(_task("linear_equations", {"count": 80})):
        lhs, rhs = problem.prompt.removeprefix("Solve for x: ").split(" = ")
        x = plain_gold_value(problem.reference.text)
        assert x is not None
        assert _side_value(lhs, x) == _side_value(rhs, x)
        assert _side_value(lhs, x + 1) != _side_value(rhs, x + 1)  # one solution, not all x


def test_word_problems_use_every_template() -> None:
    templates = {p.metadata["template"] for p in _problems(_task("word_problems", {"count": 120}))}
    assert templates == {"change", "farm", "savings", "sharing", "travel", "discount"}


def test_reference_solution_is_none_for_foreign_problems() -> None:
    task = _task("arithmetic", {"difficulty": 2, "count": 3})
    other = _problems(_task("arithmetic", {"difficulty": 5, "count": 3}))[0]
    assert task.reference_solution(other) is None
    renamed = Problem(id="nope", task="arithmetic", prompt=other.prompt, reference=other.reference)
    assert task.reference_solution(renamed) is None


def test_json_round_trip_of_references() -> None:
    for name in GENERATORS:
        task = _task(name, {"count": 20})
        for problem in _problems(task):
            data = json.loads(json.dumps(task.encode_reference(problem.reference)))
            assert task.decode_reference(data) == problem.reference


def test_wrong_item_raises_instead_of_being_yielded() -> None:
    class Broken(ProceduralMathTask):
        name = "broken"
        description = "claims 2 + 2 = 5"

        def make_item(self, rng: random.Random) -> Item:
            step = Step(text="", expr="2 + 2", value=Fraction(5))
            prompt = f"Calculate: 2 + 2 ({rng.random()})"
            return Item(prompt=prompt, answer=Fraction(5), steps=(step,))

    task = Broken(Broken.Args(count=1), CTX)
    with pytest.raises(InfrastructureError, match="2 \\+ 2"):
        next(iter(task.problems(split="train", seed=0)))


def test_small_problem_space_stops_instead_of_looping(caplog: pytest.LogCaptureFixture) -> None:
    class Tiny(ProceduralMathTask):
        name = "tiny"
        description = "three possible problems"

        def make_item(self, rng: random.Random) -> Item:
            n = rng.randint(2, 7)
            return Item(prompt=f"Calculate: {n} + 0", answer=Fraction(n),
                        steps=(Step(text="", expr=f"{n} + 0", value=Fraction(n)),))

    problems = _problems(Tiny(Tiny.Args(count=10), CTX))
    assert 1 <= len(problems) < 6
    assert len({p.prompt for p in problems}) == len(problems)
    assert "distinct problems" in caplog.text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"difficulty": "banana"}, "difficulty=banana"),
        ({"difficulty": "9"}, "difficulty=9"),
        ({"count": "0"}, "count=0"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_task_args_raise_naming_key_and_value(args: dict[str, str], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        create_task("arithmetic", args, CTX)


def test_task_args_are_parsed_laxly() -> None:
    task = create_task("arithmetic", {"difficulty": "2", "count": "5"}, CTX)
    assert len(_problems(task)) == 5


def test_unknown_split_raises() -> None:
    with pytest.raises(UsageError, match="validation"):
        next(iter(_task("fractions").problems(split="validation", seed=0)))


@pytest.mark.parametrize("expr", ["__import__('os')", "2 ** 3", "1.5 + 1", "abs(-1)", "1 / 0"])
def test_evaluate_rejects_anything_but_plain_arithmetic(expr: str) -> None:
    with pytest.raises(UsageError):
        evaluate(expr)


@pytest.mark.parametrize(
    ("text", "value"),
    [("42", Fraction(42)), ("-7", Fraction(-7)), ("1,234", Fraction(1234)),
     ("\\frac{3}{4}", Fraction(3, 4)), ("-\\frac{10}{7}", Fraction(-10, 7)),
     ("\\dfrac{2}{4}", Fraction(1, 2)), ("x^2", None), ("(1, 2)", None), ("0.5", None),
     ("1,2", None), ("12,3456", None)],
)
def test_plain_gold_value(text: str, value: Fraction | None) -> None:
    assert plain_gold_value(text) == value


def test_math_tasks_are_registered() -> None:
    infos = {info.name: info for info in list_tasks()}
    for name in (*GENERATORS, "gsm8k", "math", "math500"):
        assert infos[name].family == "math"
        assert infos[name].distribution == "verigen-tasks"
    assert infos["math500"].splits == ("test",)


def test_importing_math_task_modules_imports_no_sympy() -> None:
    code = (
        "import sys\n"
        "import verigen_tasks.math, verigen_tasks.math.selfcheck\n"
        "from verigen.task import list_tasks, create_task, TaskContext\n"
        "list_tasks()\n"
        "t = create_task('arithmetic', {'count': 3}, TaskContext())\n"
        "list(t.problems(split='train', seed=0))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sympy', 'torch', 'transformers', 'docker'))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

"""The code and puzzle task plugins: registration, loading, prompts and references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verigen_tasks.code._common import Row
from verigen_tasks.code.apps import parse_cases
from verigen_tasks.code.mbpp import entry_point
from verigen_tasks.code.selfcheck import references, trivial_answers

from verigen.errors import UsageError
from verigen.task import TaskContext, create_task, list_tasks
from verigen.verify.code import CodeVerifier, TestSuite
from verigen.verify.puzzle import Puzzle, PuzzleVerifier

CODE_TASKS = ("humaneval", "mbpp", "apps", "p3")


def _task(name: str, data: Path, **args: object) -> object:
    return create_task(name, args, TaskContext(data_dir=data, sandbox="bwrap"))


def test_tasks_are_registered_with_families() -> None:
    infos = {t.name: t for t in list_tasks()}
    for name in CODE_TASKS:
        assert name in infos, name
    assert infos["p3"].family == "puzzle" and infos["humaneval"].family == "code"


@pytest.mark.parametrize(("name", "split", "args", "count"), [
    ("humaneval", "test", {}, 164),
    ("mbpp", "test", {}, 500),
    ("mbpp", "train", {}, 374),
    ("mbpp", "validation", {}, 90),
    ("mbpp", "prompt", {}, 10),
    ("mbpp", "test", {"variant": "sanitized"}, 257),
    ("apps", "test", {}, 10),
    ("apps", "test", {"file": "apps/selected150.jsonl"}, 150),
])
def test_problem_counts(shared_data: Path, name: str, split: str, args: dict[str, object], count: int) -> None:
    task = create_task(name, args, TaskContext(data_dir=shared_data))
    problems = list(task.problems(split=split, seed=0))
    assert len(problems) == count
    assert len({p.id for p in problems}) == count


def test_p3_splits_by_family(shared_data: Path) -> None:
    task = create_task("p3", {}, TaskContext(data_dir=shared_data))
    train = list(task.problems(split="train", seed=0))
    test = list(task.problems(split="test", seed=0))
    fam = lambda p: p.id.split("/", 1)[1].split(":")[0]  # noqa: E731
    assert {fam(p) for p in train}.isdisjoint({fam(p) for p in test})
    assert len(train) > 500 and len(test) > 500
    split = json.loads((shared_data / "p3" / "split.json").read_text())
    assert {fam(p) for p in test} == set(split["test"])


def test_humaneval_problem_shape(shared_data: Path) -> None:
    task = create_task("humaneval", {}, TaskContext(data_dir=shared_data))
    first = next(iter(task.problems(split="test", seed=0)))
    suite = first.reference
    assert first.id == "HumanEval/0" and isinstance(suite, TestSuite)
    assert suite.entry_point == "has_close_elements" and suite.tests == ("check(has_close_elements)",)
    assert "def has_close_elements" in first.prompt and "```python" in first.prompt
    assert task.reference_solution(first) == suite.reference
    assert task.decode_reference(json.loads(json.dumps(task.encode_reference(suite)))) == suite


def test_mbpp_prompt_shows_one_test_and_setup_is_kept(shared_data: Path) -> None:
    task = create_task("mbpp", {}, TaskContext(data_dir=shared_data))
    probs = {p.id: p for p in task.problems(split="test", seed=0)}
    p = probs["mbpp/11"]
    assert p.reference.tests[0] in p.prompt and p.reference.tests[1] not in p.prompt
    assert p.reference.entry_point == "remove_Occ"
    with_setup = [q for q in probs.values() if "Node(" in q.reference.setup]
    assert with_setup, "test_setup_code rows keep their setup"


@pytest.mark.parametrize(("code", "tests", "expected"), [
    ("def a(x):\n  return x\ndef b(y):\n  return a(y)", ["assert b(1) == 1"], "b"),
    ("def similar(x, y):\n  pass", ["assert set(similar((1,), (2,))) == set()"], "similar"),
    ("import math\nclass P:\n  pass\ndef f(p):\n  return 1", ["assert f(P()) == 1"], "f"),
])
def test_mbpp_entry_point(code: str, tests: list[str], expected: str) -> None:
    assert entry_point(code, tests) == expected


@pytest.mark.parametrize(("data", "kind_fn", "first"), [
    ({"input_output": json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]})}, "", ("1 2\n", "3\n")),
    ({"input_output": json.dumps({"inputs": [["1", "2"]], "outputs": [["3"]]})}, "", ("1\n2", "3")),
    ({"input_output": json.dumps({"fn_name": "f", "inputs": [[1, [2]]], "outputs": [[3]]})}, "f",
     ("[1, [2]]", "[3]")),
    ({"starter_code": "\ndef g(s, n):\n\t", "test_list": [{"input": "ab\n3", "output": ["ab3"]}]}, "g",
     ('["ab", 3]', '["ab3"]')),
    ({"starter_code": "", "test_list": [{"input": "5\n", "output": ["25\n"]}]}, "", ("5\n", "25\n")),
    ({"tests": [{"input": "x", "output": "y"}]}, "", ("x", "y")),
])
def test_apps_layouts(data: dict[str, object], kind_fn: str, first: tuple[str, str]) -> None:
    fn, cases, ref = parse_cases(Row(path=Path("x.jsonl"), line=1, data=data))  # type: ignore[arg-type]
    assert fn == kind_fn
    assert (cases[0].input, cases[0].output) == first
    assert ref is None


def test_p3_prompt_and_references(shared_data: Path) -> None:
    task = create_task("p3", {}, TaskContext(data_dir=shared_data))
    problems = list(task.problems(split="train", seed=0))
    multi = next(p for p in problems if len(p.reference.sol_bodies) > 1)
    assert isinstance(multi.reference, Puzzle)
    assert multi.reference.sat in multi.prompt and multi.reference.ans_type in multi.prompt
    assert len(references(task, multi)) == len(multi.reference.sol_bodies)
    assert "def sol():\n    return 0\n" in trivial_answers(multi)


@pytest.mark.parametrize("name", CODE_TASKS)
def test_verifier_honours_the_context_sandbox(shared_data: Path, name: str) -> None:
    task = create_task(name, {}, TaskContext(data_dir=shared_data, sandbox="docker"))
    verifier = task.verifier()
    assert isinstance(verifier, (CodeVerifier, PuzzleVerifier))
    assert verifier.sandbox == "docker" and verifier.needs_process_isolation is False
    verifier.close()  # never opened: nothing to close, and no sandbox was started


@pytest.mark.parametrize(("name", "args"), [("mbpp", {"variant": "tiny"}), ("apps", {"file": "nope.jsonl"})])
def test_bad_args_raise_usage_errors(shared_data: Path, name: str, args: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        task = create_task(name, args, TaskContext(data_dir=shared_data))
        list(task.problems(split="test", seed=0))

"""Task ``jsonl``: a user's data file as a task, every row validated before anything runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verigen.errors import UsageError
from verigen.task import Task, TaskContext, create_task
from verigen.verify.code import TestSuite
from verigen.verify.math.answer import MathAnswer
from verigen.verify.puzzle import Puzzle


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def jsonl_task(path: Path, **args: object) -> Task[object]:
    return create_task("jsonl", {"path": str(path), **args}, TaskContext())


def all_problems(task: Task[object]) -> list:
    return [p for s in task.splits for p in task.problems(split=s, seed=0)]


MATH_ROWS = [
    {"question": "What is 2+3?", "solution": "2+3 = 5, so the answer is \\boxed{5}."},
    {"question": "Tom has 3 apples and buys 4. How many now?", "solution": "3 + 4 = <<3+4=7>>7\n#### 7"},
    {"question": "Half of one?", "solution": "\\frac{1}{2}"},
    {"id": 17, "question": "How many sides has a hexagon?", "solution": "6"},
]


def test_math_rows_with_mapped_columns(tmp_path: Path) -> None:
    task = jsonl_task(write_jsonl(tmp_path / "m.jsonl", MATH_ROWS), prompt_field="question", answer_field="solution")
    assert task.family == "math" and task.splits == ("all",)
    problems = all_problems(task)
    assert [p.reference for p in problems] == [MathAnswer(text=t) for t in ("5", "7", "\\frac{1}{2}", "6")]
    assert problems[3].id == "17"
    assert problems[0].id.startswith("jsonl/") and problems[0].metadata["source"] == f"{tmp_path / 'm.jsonl'}:1"
    # a worked solution keeps its steps (calculator annotations gone) and ends with one box
    assert task.reference_solution(problems[1]) == "3 + 4 = 7\n\nThe answer is \\boxed{7}."
    assert task.reference_solution(problems[2]) == "The answer is \\boxed{\\frac{1}{2}}."
    messages = task.messages(problems[0])
    assert messages[0].role == "system" and "\\boxed" in messages[0].content
    assert messages[-1].content == "What is 2+3?"


def test_ids_are_a_stable_hash_of_the_prompt(tmp_path: Path) -> None:
    a = all_problems(jsonl_task(write_jsonl(tmp_path / "a.jsonl", MATH_ROWS), prompt_field="question", answer_field="solution"))
    b = all_problems(jsonl_task(write_jsonl(tmp_path / "b.jsonl", MATH_ROWS[::-1]), prompt_field="question", answer_field="solution"))
    assert {p.id for p in a} == {p.id for p in b}


def test_messages_rows_keep_their_own_turns(tmp_path: Path) -> None:
    conv = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "1+1?"},
            {"role": "assistant", "content": "2"}, {"role": "user", "content": "and 2+2?"}]
    task = jsonl_task(write_jsonl(tmp_path / "c.jsonl", [{"messages": conv, "answer": "4"}]))
    (problem,) = all_problems(task)
    assert [m.to_json() for m in task.messages(problem)] == conv
    assert problem.prompt == "and 2+2?"


FUNCTION_ROWS = [
    {"prompt": "Write add(a, b).", "tests": ["assert add(1, 2) == 3"], "entry_point": "add",
     "reference": "def add(a, b):\n    return a + b\n"},
    # HumanEval-shaped: the prompt is the code to continue, setup defines check(candidate)
    {"prompt": "def sq(x):\n    \"\"\"Square x.\"\"\"\n", "prefix": "def sq(x):\n    \"\"\"Square x.\"\"\"\n",
     "setup": "def check(candidate):\n    assert candidate(3) == 9\n", "reference": "    return x * x\n"},
    # MBPP-shaped: no entry_point column; it is inferred from the reference and the tests
    {"text": "Return the larger of two numbers.", "test_list": ["assert bigger(1, 2) == 2"],
     "code": "def bigger(a, b):\n    return max(a, b)\n"},
]


def test_function_rows(tmp_path: Path) -> None:
    task = jsonl_task(write_jsonl(tmp_path / "f.jsonl", FUNCTION_ROWS[:2]), kind="function")
    assert task.family == "code"
    first, second = all_problems(task)
    assert first.reference == TestSuite(kind="function", entry_point="add", tests=("assert add(1, 2) == 3",),
                                        reference="def add(a, b):\n    return a + b\n")
    assert "```python code block" in first.prompt
    assert second.reference.tests == ("check(sq)",) and second.reference.entry_point == "sq"  # type: ignore[attr-defined]
    assert second.prompt.startswith("Complete the Python function `sq` below.")
    # a continuation becomes a whole program as a few-shot answer
    assert task.fewshot_answer(second) == "```python\ndef sq(x):\n    \"\"\"Square x.\"\"\"\n    return x * x\n```"
    mbpp = jsonl_task(write_jsonl(tmp_path / "mbpp.jsonl", FUNCTION_ROWS[2:]), kind="function",
                      prompt_field="text", tests_field="test_list", reference_field="code")
    (p,) = all_problems(mbpp)
    assert p.reference.entry_point == "bigger" and "named `bigger`" in p.prompt  # type: ignore[attr-defined]


def test_stdio_and_puzzle_rows(tmp_path: Path) -> None:
    stdio = jsonl_task(write_jsonl(tmp_path / "s.jsonl", [
        {"prompt": "Sum two ints.", "cases": [{"input": "1 2\n", "output": "3\n"}],
         "reference": "print(sum(map(int, input().split())))"},
        {"prompt": "Echo.", "cases": json.dumps({"inputs": ["a\n"], "outputs": ["a\n"]})},  # APPS input_output, as a string
    ]), kind="stdio")
    a, b = all_problems(stdio)
    assert a.reference.kind == "stdio" and a.reference.cases[0].output == "3\n"  # type: ignore[attr-defined]
    assert b.reference.cases[0].input == "a\n" and stdio.reference_solution(b) is None  # type: ignore[attr-defined]
    puzzles = jsonl_task(write_jsonl(tmp_path / "p.jsonl", [
        {"sat": "def sat(x: int):\n    return x * x == 49 and x < 0", "sol": "def sol():\n    return -7\n"},
        {"sat": "def sat(s: str, n=3):\n    return len(s) == n", "ans_type": "str", "sol": "return 'abc'"},
    ]), kind="puzzle")
    first, second = all_problems(puzzles)
    assert isinstance(first.reference, Puzzle) and first.reference.ans_type == "int"
    assert first.reference.name == first.id and "def sat(x: int)" in first.prompt
    assert puzzles.reference_solution(second) == "```python\ndef sol():\n    return 'abc'\n```"


@pytest.mark.parametrize(("kind", "row", "needle"), [
    ("math", {"prompt": "x"}, ":1: field 'answer' is missing"),
    ("math", {"answer": "1"}, ":1: needs field 'prompt' or field 'messages'"),
    ("math", {"prompt": "x", "answer": "\\boxed{"}, "field 'answer' has a \\boxed{} that is empty"),
    ("math", {"prompt": "x", "answer": ["1"]}, "field 'answer' must be a string, got list"),
    ("math", {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "answer": "1"},
     "must end with a user turn"),
    ("function", {"prompt": "x", "tests": ["assert f()"]}, "field 'entry_point' is missing"),
    ("function", {"prompt": "x", "entry_point": "f"}, "field 'tests' is missing"),
    ("function", {"prompt": "x", "entry_point": "f", "tests": 3}, "field 'tests' must be a list of non-blank strings"),
    ("stdio", {"prompt": "x"}, "field 'cases' is missing"),
    ("stdio", {"prompt": "x", "cases": [{"input": "1"}]}, "field 'cases' item 0 needs 'input' and 'output'"),
    ("stdio", {"prompt": "x", "cases": "[not json"}, "field 'cases' holds invalid JSON"),
    ("puzzle", {"sat": "def sat(x):\n    return x"}, "field 'ans_type' is missing"),
    ("puzzle", {"sat": "def sat(x: int) return x"}, "field 'sat' is not valid Python"),
    ("puzzle", {"sat": "def sat(x: Blob):\n    return x"}, "field 'ans_type' is not usable"),
    ("puzzle", {"sat": "def sat(x: int):\n    return x", "sol": "def sol(:"}, "field 'sol' is not valid Python"),
])
def test_a_bad_row_names_file_line_and_field(tmp_path: Path, kind: str, row: dict[str, object], needle: str) -> None:
    good = {"math": {"prompt": "ok", "answer": "1"}, "function": FUNCTION_ROWS[0],
            "stdio": {"prompt": "ok", "cases": [{"input": "", "output": "1"}]},
            "puzzle": {"sat": "def sat(x: int):\n    return x == 1"}}[kind]
    path = write_jsonl(tmp_path / "d.jsonl", [good, row])
    with pytest.raises(UsageError) as err:
        jsonl_task(path, kind=kind)
    assert f"{path}:2" in str(err.value) and needle.removeprefix(":1") in str(err.value)


def test_column_names_appear_in_errors(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "x", "solution": 3.5}, {"question": "y"}])
    with pytest.raises(UsageError, match=r"d.jsonl:2: field 'answer' \(column 'solution'\) is missing"):
        jsonl_task(path, prompt_field="question", answer_field="solution")


def test_duplicates_and_unreadable_input_are_reported(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "same", "answer": "1"}, {"prompt": "same", "answer": "2"}])
    with pytest.raises(UsageError, match=r"d.jsonl:2: problem id .* repeats .*d.jsonl:1 \(same prompt"):
        jsonl_task(path)
    (tmp_path / "broken.jsonl").write_text('{"prompt": "a", "answer": "1"}\n{oops\n')
    with pytest.raises(UsageError, match=r"broken.jsonl:2: not valid JSON"):
        jsonl_task(tmp_path / "broken.jsonl")
    with pytest.raises(UsageError, match="does not exist"):
        jsonl_task(tmp_path / "missing.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UsageError, match="cannot read"):
        jsonl_task(tmp_path / "x.txt")
    with pytest.raises(UsageError, match=r"bad --task-arg kind=essay"):
        jsonl_task(path, kind="essay")


def test_splits_by_column_by_seeded_hash_and_from_the_source(tmp_path: Path) -> None:
    rows = [{"prompt": f"q{i}", "answer": str(i), "part": "train" if i % 3 else "validation"} for i in range(60)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    by_column = jsonl_task(path, split_field="part")
    assert by_column.splits == ("train", "validation")
    assert len(list(by_column.problems(split="validation", seed=0))) == 20
    hashed = jsonl_task(path, test_fraction="0.25")
    test = {p.id for p in hashed.problems(split="test", seed=0)}
    train = {p.id for p in hashed.problems(split="train", seed=0)}
    assert hashed.splits == ("train", "test") and not test & train and len(test | train) == 60
    assert 5 <= len(test) <= 25
    assert test == {p.id for p in jsonl_task(path, test_fraction="0.25").problems(split="test", seed=0)}
    assert test != {p.id for p in jsonl_task(path, test_fraction="0.25", split_seed="1").problems(split="test", seed=0)}
    with pytest.raises(UsageError, match="has no split 'test'"):
        list(by_column.problems(split="test", seed=0))
    doc = tmp_path / "splits.json"
    doc.write_text(json.dumps({"train": rows[:3], "test": rows[3:5]}))
    native = jsonl_task(doc)
    assert native.splits == ("train", "test") and len(list(native.problems(split="test", seed=0))) == 2
    assert next(native.problems(split="test", seed=0)).metadata["source"] == f"{doc} [test] item 1"


def test_a_json_list_and_json_lines_named_json(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps([{"prompt": "a", "answer": "1"}, {"prompt": "b", "answer": "2"}]))
    assert len(all_problems(jsonl_task(tmp_path / "list.json"))) == 2
    write_jsonl(tmp_path / "lines.json", [{"prompt": "a", "answer": "1"}, {"prompt": "b", "answer": "2"}])
    assert len(all_problems(jsonl_task(tmp_path / "lines.json"))) == 2


def test_parquet_csv_and_saved_datasets_through_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="the [hub] extra (datasets) is not installed")
    ds = datasets.Dataset.from_list([{"question": r["question"], "solution": r["solution"]} for r in MATH_ROWS])
    ds.to_parquet(str(tmp_path / "d.parquet"))
    ds.to_csv(str(tmp_path / "d.csv"), index=False)
    datasets.DatasetDict({"train": ds.select([0, 1]), "test": ds.select([2, 3])}).save_to_disk(str(tmp_path / "saved"))
    mapping = {"prompt_field": "question", "answer_field": "solution"}
    expected = [MathAnswer(text=t) for t in ("5", "7", "\\frac{1}{2}", "6")]
    for name in ("d.parquet", "d.csv"):
        task = jsonl_task(tmp_path / name, **mapping)
        assert [p.reference for p in all_problems(task)] == expected, name
    csv_task = jsonl_task(tmp_path / "d.csv", **mapping)
    assert all_problems(csv_task)[0].metadata["source"] == f"{tmp_path / 'd.csv'}:2"  # line 1 is the header
    saved = jsonl_task(tmp_path / "saved", **mapping)
    assert saved.splits == ("train", "test")
    assert [p.reference for p in saved.problems(split="test", seed=0)] == expected[2:]
    bad = datasets.Dataset.from_list([{"question": "q", "solution": None}])
    bad.to_parquet(str(tmp_path / "bad.parquet"))
    with pytest.raises(UsageError, match=r"bad.parquet row 1: field 'answer' \(column 'solution'\) is missing"):
        jsonl_task(tmp_path / "bad.parquet", **mapping)


def test_curated_fewshot_examples_from_a_file(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"q{i}", "answer": str(i)} for i in range(3)])
    shots = write_jsonl(tmp_path / "shots.jsonl", [{"prompt": "What is 1+1?", "answer": "1 + 1 = 2. \\boxed{2}"}])
    task = jsonl_task(data, fewshot_path=str(shots))
    (example,) = task.fewshot_examples()
    assert example.prompt == "What is 1+1?" and example.answer.endswith("The answer is \\boxed{2}.")
    no_answer = write_jsonl(tmp_path / "noans.jsonl", [{"prompt": "x", "tests": ["assert f()"], "entry_point": "f"}])
    with pytest.raises(UsageError, match="needs a known-good answer"):
        jsonl_task(write_jsonl(tmp_path / "f.jsonl", [FUNCTION_ROWS[0]]), kind="function", fewshot_path=str(no_answer))


def test_a_broken_row_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "answer": "1"}, {"prompt": "b", "answer": ""}])
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "verigen.cli", "generate", "--task", "jsonl", "--task-arg", f"path={path}",
         "--backend", "fake", "--model", "echo", "--out", str(run)],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2, res.stderr
    assert f"{path}:2: field 'answer' is blank" in res.stderr and "Traceback" not in res.stderr
    assert not run.exists()

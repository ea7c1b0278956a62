"""GSM8K, MATH and MATH-500 from the shared data, and errors on broken data files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from verigen_tasks.math._latex import last_boxed, unbox

from verigen.errors import UsageError
from verigen.task import Task, TaskContext, create_task
from verigen.types import Problem


def _task(name: str, data: Path, **args: object) -> Task[object]:
    return create_task(name, args, TaskContext(data_dir=data))


def _problems(task: Task[object], split: str = "test") -> list[Problem[object]]:
    return list(task.problems(split=split, seed=0))


def test_gsm8k_loads_both_splits(shared_data: Path) -> None:
    task = _task("gsm8k", shared_data)
    test, train = _problems(task, "test"), _problems(task, "train")
    assert (len(test), len(train)) == (1319, 7473)
    first = test[0]
    assert first.id == "gsm8k/test/0" and test[17].id == "gsm8k/test/17"
    assert first.prompt.startswith("Janet")
    assert first.reference.text == "18"  # type: ignore[attr-defined]
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", p.reference.text) for p in test)  # type: ignore[attr-defined]


def test_gsm8k_reference_solution_drops_calculator_annotations(shared_data: Path) -> None:
    task = _task("gsm8k", shared_data)
    first = _problems(task)[0]
    solution = task.reference_solution(first)
    assert solution is not None
    assert "<<" not in solution and "####" not in solution
    assert solution.startswith("Janet sells 16 - 3 - 4 = 9 duck eggs a day.")
    assert solution.endswith("The answer is \\boxed{18}.")


def test_gsm8k_strips_thousands_separators(tmp_path: Path) -> None:
    row = {"question": "How much?", "answer": "It is 1000 * 2 = <<1000*2=2000>>2000\n#### 2,000"}
    _write(tmp_path / "gsm8k" / "test.jsonl", [row])
    task = _task("gsm8k", tmp_path)
    (problem,) = _problems(task)
    assert problem.reference.text == "2000"  # type: ignore[attr-defined]
    expected = "It is 1000 * 2 = 2000\n\nThe answer is \\boxed{2000}."
    assert task.reference_solution(problem) == expected


def test_math_splits_are_the_prm800k_split(shared_data: Path) -> None:
    task = _task("math", shared_data)
    train, test = _problems(task, "train"), _problems(task, "test")
    assert (len(train), len(test)) == (4500, 500)
    assert not {p.id for p in train} & {p.id for p in test}
    assert len({p.id for p in train}) == 4500
    assert {p.id for p in test} == {p.id for p in _problems(_task("math500", shared_data))}
    assert train[0].id == "test/algebra/1.json"
    assert train[0].reference.text == "2"  # type: ignore[attr-defined]
    assert train[0].metadata == {"source": "MATH", "level": 3, "subject": "Algebra"}


def test_math500_answer_field_agrees_with_last_boxed(shared_data: Path) -> None:
    rows = [json.loads(line) for line in (shared_data / "math500" / "test.jsonl").open()]
    same = sum(
        re.sub(r"\s", "", last_boxed(r["solution"]) or "") == re.sub(r"\s", "", r["answer"])
        for r in rows
    )
    assert same >= 0.95 * len(rows)
    problems = _problems(_task("math500", shared_data))
    assert [p.reference.text for p in problems] == [r["answer"] for r in rows]  # type: ignore[attr-defined]
    assert [p.id for p in problems] == [r["unique_id"] for r in rows]


@pytest.mark.parametrize(
    ("args", "count"),
    [({"level": "5"}, 134), ({"subject": "Number Theory"}, 62),
     ({"subject": "number_theory", "level": 5}, 12), ({"subject": "Counting & Probability"}, 38)],
)
def test_math500_filters(shared_data: Path, args: dict[str, object], count: int) -> None:
    problems = _problems(_task("math500", shared_data, **args))
    assert len(problems) == count
    if "level" in args:
        assert {p.metadata["level"] for p in problems} == {int(str(args["level"]))}


@pytest.mark.parametrize(
    ("args", "needle"),
    [({"level": "6"}, "level=6"), ({"subject": "astrology"}, "subject=astrology"),
     ({"difficulty": "3"}, "difficulty")],
)
def test_math_bad_args(shared_data: Path, args: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        _task("math", shared_data, **args)


def test_math500_has_no_train_split(shared_data: Path) -> None:
    with pytest.raises(UsageError, match="no split 'train'"):
        _problems(_task("math500", shared_data), "train")


def _write(path: Path, rows: list[object], raw: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + raw, encoding="utf-8")


_GOOD_GSM = {"question": "Q?", "answer": "2 + 2 = 4\n#### 4"}
_GOOD_M500 = {"problem": "P", "solution": "so $\\boxed{3}$", "answer": "3",
              "subject": "Algebra", "level": 1, "unique_id": "test/algebra/9.json"}


@pytest.mark.parametrize(
    ("rel", "rows", "raw", "needle"),
    [
        ("gsm8k/test.jsonl", [_GOOD_GSM], "{not json\n", r"test\.jsonl:2: not valid JSON"),
        ("gsm8k/test.jsonl", [_GOOD_GSM, {"question": "Q?"}], "", r"test\.jsonl:2: field 'answer'"),
        ("gsm8k/test.jsonl", [{"answer": "#### 4"}], "", r"test\.jsonl:1: field 'question'"),
        ("gsm8k/test.jsonl", [{"question": "Q", "answer": "no final"}], "",
         r"test\.jsonl:1: field 'answer' must end with '####"),
        ("math500/test.jsonl", [_GOOD_M500, {**_GOOD_M500, "answer": None}], "",
         r"test\.jsonl:2: field 'answer'"),
        ("math500/test.jsonl", [{**_GOOD_M500, "level": "high"}], "",
         r"test\.jsonl:1: field 'level'"),
        ("math500/test.jsonl", [[1, 2]], "", r"test\.jsonl:1: expected a JSON object"),
    ],
)
def test_broken_rows_raise_naming_file_line_and_field(
    tmp_path: Path, rel: str, rows: list[object], raw: str, needle: str
) -> None:
    _write(tmp_path / rel, rows, raw)
    with pytest.raises(UsageError, match=needle):
        _problems(_task(rel.partition("/")[0], tmp_path))


def test_math_row_without_boxed_answer_raises(tmp_path: Path) -> None:
    _write(tmp_path / "math500" / "test.jsonl", [_GOOD_M500])
    _write(tmp_path / "math" / "test.jsonl",
           [{"problem": "P2", "level": "Level 2", "type": "Algebra", "solution": "it is 5",
             "unique_id": "test/algebra/10.json"}])
    with pytest.raises(UsageError, match=r"math/test\.jsonl:1: field 'solution' has no \\boxed"):
        _problems(_task("math", tmp_path), "train")


def test_math_train_needs_math500_to_hold_it_out(tmp_path: Path) -> None:
    _write(tmp_path / "math" / "test.jsonl", [])
    with pytest.raises(UsageError, match=r"math500/test.jsonl"):
        _problems(_task("math", tmp_path), "train")


@pytest.mark.parametrize(
    ("text", "last", "unboxed"),
    [
        ("so $\\boxed{5}$.", "5", "so $5$."),
        ("$\\boxed{\\frac{1}{2}}$ or \\boxed{x^{2}}", "x^{2}", "$\\frac{1}{2}$ or x^{2}"),
        ("\\fbox{7} then \\boxed{\\{1, 2\\}}", "\\{1, 2\\}", "7 then \\{1, 2\\}"),
        ("is $\\boxed 5$", "5", "is $5$"),
        ("no box here", None, "no box here"),
        ("broken \\boxed{1", None, "broken \\boxed{1"),
    ],
)
def test_last_boxed_and_unbox(text: str, last: str | None, unboxed: str) -> None:
    assert last_boxed(text) == last
    assert unbox(text) == unboxed


def test_hub_fallback_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without local files the hub rows are used; hub MATH rows lack unique_id, so MATH-500
    is held out of MATH train by problem text."""
    calls: list[tuple[str, str | None, str]] = []

    def fake_hub(task: str, name: str, config: str | None, split: str) -> list[dict[str, object]]:
        calls.append((name, config, split))
        if name == "HuggingFaceH4/MATH-500":
            return [_GOOD_M500]
        if config == "algebra":
            return [
                {"problem": "P", "level": "Level 1", "type": "Algebra", "solution": "\\boxed{3}"},
                {"problem": "Q", "level": "Level 2", "type": "Algebra", "solution": "\\boxed{4}"},
            ]
        return []

    monkeypatch.setattr("verigen_tasks.math._dataset.load_hub", fake_hub)
    task = create_task("math", {}, TaskContext())
    (train,) = _problems(task, "train")
    assert (train.id, train.prompt) == ("hendrycks_math/algebra/2", "Q")
    assert train.reference.text == "4"  # type: ignore[attr-defined]
    assert ("EleutherAI/hendrycks_math", "algebra", "test") in calls
    assert [p.id for p in _problems(task, "test")] == ["test/algebra/9.json"]


def test_missing_local_file_and_no_hub_names_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hub(task: str, name: str, config: str | None, split: str) -> list[dict[str, object]]:
        raise UsageError("no network")

    monkeypatch.setattr("verigen_tasks.math._dataset.load_hub", no_hub)
    with pytest.raises(UsageError, match=r"gsm8k/test\.jsonl.*hub fallback failed: no network"):
        _problems(_task("gsm8k", tmp_path))

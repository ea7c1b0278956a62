"""``verigen tasks info``: args schema, splits, family, origin and one rendered prompt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from verigen.task import TaskContext
from verigen.taskinfo import describe


def test_a_procedural_task_describes_itself_with_an_example() -> None:
    d = describe("arithmetic", {"difficulty": "1"}, TaskContext())
    assert (d.family, d.splits, d.distribution, d.target) == (
        "math", ("train", "test"), "verigen-tasks", "verigen_tasks.math.arithmetic:Arithmetic")
    args = {a.name: a for a in d.args}
    assert (args["difficulty"].type, args["difficulty"].default, args["difficulty"].description) == ("int", "3", "(>= 1, <= 5)")
    assert d.example_split == "test" and d.example[0].role == "system"
    assert d.example[-1].content.startswith("Calculate: ")
    few = describe("arithmetic", {}, TaskContext(), split="test", fewshot=2)
    assert [m.role for m in few.example] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_a_task_that_needs_args_still_describes_its_schema() -> None:
    d = describe("jsonl", {}, TaskContext())
    args = {a.name: a for a in d.args}
    assert args["path"].default is None and args["kind"].type == "'math' | 'function' | 'stdio' | 'puzzle'"
    assert args["split_field"].type == "str | None" and args["test_fraction"].description.endswith("(> 0.0, < 1.0)")
    assert d.example == () and "path" in str(d.example_error)


def test_the_cli_prints_json_and_text(tmp_path: Path) -> None:
    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps({"prompt": "Sum 1 2", "cases": [{"input": "", "output": "3"}]}) + "\n")
    cmd = [sys.executable, "-m", "verigen.cli", "tasks", "info", "jsonl", "--task-arg", f"path={data}",
           "--task-arg", "kind=stdio"]
    res = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["family"] == "code" and info["splits"] == ["all"] and info["distribution"] == "verigen-tasks"
    assert info["example"]["messages"][-1]["content"].startswith("Sum 1 2\n\nWrite a Python program that reads")
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and "example prompt" in text.stdout and "required" in text.stdout
    unknown = subprocess.run([sys.executable, "-m", "verigen.cli", "tasks", "info", "nope"],
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "unknown task 'nope'" in unknown.stderr

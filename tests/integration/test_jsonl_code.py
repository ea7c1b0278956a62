"""Code kinds of task ``jsonl`` and the code scaffolds, verified in a real sandbox (bwrap):
references pass, a wrong reference is reported with its file and line."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from verigen.scaffold import new_plugin
from verigen.selfcheck import check_problems, task_problems
from verigen.task import Task, TaskContext

pytestmark = pytest.mark.bwrap

ROWS = {
    "function": [
        {"id": "add", "prompt": "Write add(a, b).", "tests": ["assert add(1, 2) == 3"], "entry_point": "add",
         "reference": "def add(a, b):\n    return a + b\n"},
        {"id": "sq", "prompt": "def sq(x):\n    \"\"\"Square x.\"\"\"\n", "prefix": "def sq(x):\n    \"\"\"Square x.\"\"\"\n",
         "setup": "def check(candidate):\n    assert candidate(3) == 9\n", "reference": "    return x * x\n"},
        {"id": "wrong", "prompt": "Write sub(a, b).", "tests": ["assert sub(3, 2) == 1"], "entry_point": "sub",
         "reference": "def sub(a, b):\n    return a + b\n"},
    ],
    "stdio": [
        {"id": "sum", "prompt": "Sum two ints.", "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5", "output": "10"}],
         "reference": "a, b = map(int, input().split())\nprint(a + b)\n"},
        {"id": "wrong", "prompt": "Echo.", "cases": [{"input": "hi\n", "output": "hi\n"}], "reference": "print('bye')"},
    ],
    "puzzle": [
        {"id": "neg7", "sat": "def sat(x: int):\n    return x * x == 49 and x < 0", "sol": "def sol():\n    return -7\n"},
        {"id": "rev", "sat": "def sat(s: str):\n    return s[::-1] == 'olleh'", "sol": "return 'hello'"},
        {"id": "wrong", "sat": "def sat(b: bool):\n    return b is True", "sol": "return 1"},
    ],
}


@pytest.fixture(scope="module")
def bwrap() -> str:
    from verigen.sandbox.select import bwrap_unavailable_reason

    reason = bwrap_unavailable_reason()
    if reason is not None:
        skip_or_fail("bwrap", reason)
    return "bwrap"


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_tasks_check_proves_good_rows_and_names_the_bad_one(tmp_path: Path, bwrap: str, kind: str) -> None:
    path = tmp_path / f"{kind}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS[kind]))
    res = subprocess.run(
        [sys.executable, "-m", "verigen.cli", "tasks", "check", "jsonl", "--task-arg", f"path={path}",
         "--task-arg", f"kind={kind}", "--sandbox", bwrap, "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 1, res.stdout + res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    failing, summary = rows[:-1], rows[-1]
    assert [(r["problem_id"], r["source"]) for r in failing] == [("wrong", f"{path}:{len(ROWS[kind])}")]
    assert "reference rejected" in failing[0]["failures"][0]
    assert summary == {"task": "jsonl", "problems": len(ROWS[kind]), "failed": 1, "without_reference": 0}


@pytest.mark.parametrize("kind", ["function", "stdio", "puzzle"])
def test_code_scaffolds_prove_every_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bwrap: str, kind: str) -> None:
    name = f"scaf_{kind}"
    root, _ = new_plugin(name, kind, tmp_path / "p")
    monkeypatch.syspath_prepend(str(root))
    module = importlib.import_module(f"verigen_task_{name}.task")
    cls: type[Task[object]] = getattr(module, f"Scaf{kind.capitalize()}Task")
    task = cls(cls.Args(), TaskContext(sandbox=bwrap))
    checks = list(check_problems(task, task_problems(task, splits=task.splits, seed=0, limit=6)))
    assert len(checks) >= 5
    assert [(c.problem_id, c.failures) for c in checks if not c.ok or c.reference is None] == []

"""``verigen tasks new``: the scaffold renders a complete, lint-clean plugin for every kind."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from verigen.errors import UsageError
from verigen.scaffold import KINDS, Names, new_plugin, render_files
from verigen.selfcheck import check_problems, task_problems
from verigen.task import Task, TaskContext


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_complete_distribution(kind: str) -> None:
    names = Names.for_task("my_task", kind)
    files = render_files(names)
    expected = {"pyproject.toml", "README.md", "tests/test_selfcheck.py", "verigen_task_my_task/__init__.py",
                "verigen_task_my_task/task.py", "verigen_task_my_task/py.typed"}
    assert expected <= {str(p) for p in files}
    assert not [p for p, text in files.items() if re.search(r"\{\{\w+\}\}", text)]  # every field filled in
    pyproject = files[Path("pyproject.toml")]
    assert 'name = "verigen-task-my-task"' in pyproject
    assert '[project.entry-points."verigen.tasks"]\nmy_task = "verigen_task_my_task.task:MyTaskTask"' in pyproject
    for path, text in files.items():
        if path.suffix == ".py":
            compile(text, str(path), "exec")


def test_generated_code_passes_the_projects_linter(tmp_path: Path) -> None:
    for kind in KINDS:
        new_plugin(f"lint_{kind}", kind, tmp_path / kind)
    ruff = Path(sys.executable).parent / "ruff"
    res = subprocess.run([str(ruff), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(("name", "kind", "needle"), [
    ("Bad-Name", "math", "use lower-case letters"),
    ("ok_name", "essay", "--kind 'essay'"),
    ("arithmetic", "math", "'arithmetic' is already registered (by verigen-tasks)"),
])
def test_bad_names_and_kinds_are_refused(tmp_path: Path, name: str, kind: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        new_plugin(name, kind, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_non_empty_directory_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not an empty folder"):
        new_plugin("fresh_task", "math", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def _load(root: Path, package: str, class_name: str, monkeypatch: pytest.MonkeyPatch) -> type[Task[object]]:
    monkeypatch.syspath_prepend(str(root))
    module = importlib.import_module(f"{package}.task")
    cls: type[Task[object]] = getattr(module, class_name)
    return cls


def test_the_math_scaffold_proves_every_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = new_plugin("remainders_u", "math", tmp_path / "p")
    cls = _load(root, "verigen_task_remainders_u", "RemaindersUTask", monkeypatch)
    task = cls(cls.Args(count=15), TaskContext())
    checks = list(check_problems(task, task_problems(task, splits=task.splits, seed=0, limit=None)))
    assert len(checks) == 30 and all(c.ok and c.reference is not None for c in checks), [c.failures for c in checks]
    train = {p.prompt for p in task.problems(split="train", seed=0)}
    assert train.isdisjoint(p.prompt for p in task.problems(split="test", seed=0))

"""A broken plugin gives a clear error naming it and never takes the others down."""

from __future__ import annotations

import pickle
from importlib.metadata import EntryPoint, entry_points

import pytest

from tests.unit._toy import ToyArgs, ToyTask, ToyVerifier
from verigen import registry
from verigen.errors import RegistryError
from verigen.guarded import GuardedVerifier, task_verifier
from verigen.task import TaskContext, create_task, scan_tasks
from verigen.types import Outcome, Problem
from verigen.verify.pool import open_pool


def _with_extra(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    real = list(entry_points(group="verigen.tasks"))
    monkeypatch.setattr(
        registry, "entry_points", lambda group: [*real, *extra] if group == "verigen.tasks" else entry_points(group=group)
    )


def test_every_kind_of_broken_plugin_is_listed_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_extra(
        monkeypatch,
        EntryPoint(name="toy", value="tests.unit._toy:ToyTask", group="verigen.tasks"),
        EntryPoint(name="gone", value="tests.unit.no_such_module:Task", group="verigen.tasks"),
        EntryPoint(name="not_a_task", value="tests.unit._toy:ToyVerifier", group="verigen.tasks"),
        EntryPoint(name="renamed", value="tests.unit._toy:ToyTask", group="verigen.tasks"),
        EntryPoint(name="no_attr", value="tests.unit._toy:Missing", group="verigen.tasks"),
        EntryPoint(name="gsm8k", value="tests.unit._toy:ToyTask", group="verigen.tasks"),
    )
    infos, broken = scan_tasks()
    names = {i.name for i in infos}
    assert {"toy", "arithmetic", "humaneval", "jsonl"} <= names and "gsm8k" not in names
    errors = {b.name: b.error for b in broken}
    assert "could not be imported: ModuleNotFoundError" in errors["gone"]
    assert "is not a verigen.task.Task subclass" in errors["not_a_task"]
    assert "the class says name='toy'" in errors["renamed"]
    assert "has no attribute 'Missing'" in errors["no_attr"]
    assert "'gsm8k' is registered twice" in errors["gsm8k"] and "verigen-tasks" in errors["gsm8k"]
    assert all("tests.unit" in e for e in errors.values())  # every error names the target
    with pytest.raises(RegistryError, match="registered twice"):
        create_task("gsm8k", {}, TaskContext())
    assert create_task("toy", {}, TaskContext()).origin.startswith("task 'toy' (tests.unit._toy:ToyTask")


def test_an_abstract_task_class_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_extra(monkeypatch, EntryPoint(name="abstract", value="verigen.task:Task", group="verigen.tasks"))
    _, broken = scan_tasks()
    assert any(b.name == "abstract" and "does not implement" in b.error for b in broken)


class RaisingVerifier(ToyVerifier):
    def verify(self, problem: Problem, completion: str):  # type: ignore[no-untyped-def, override]
        raise ValueError("bug in the plugin")


class ReturnsNone(ToyVerifier):
    def verify(self, problem: Problem, completion: str):  # type: ignore[no-untyped-def, override]
        return None


class RaisingTask(ToyTask):
    def verifier(self) -> ToyVerifier:
        return RaisingVerifier()


class FactoryFails(ToyTask):
    def verifier(self) -> ToyVerifier:
        raise OSError("no model file")


class NotAVerifier(ToyTask):
    def verifier(self):  # type: ignore[no-untyped-def, override]
        return object()


def test_a_raising_verifier_is_an_error_verdict_naming_the_plugin() -> None:
    task = RaisingTask(ToyArgs(count=1), TaskContext())
    task.origin = "task 'toy' (tests:RaisingTask, distribution 'my-plugin' 1.0)"
    problem = next(task.problems(split="train", seed=0))
    verifier = task_verifier(task)
    verdict = verifier.verify(problem, "0")
    assert verdict.outcome is Outcome.ERROR
    assert "my-plugin" in verdict.detail and "ValueError: bug in the plugin" in verdict.detail
    assert GuardedVerifier(ReturnsNone(), "x").verify(problem, "0").outcome is Outcome.ERROR
    # the guard travels to worker processes (the toy verifier asks for process isolation)
    assert pickle.loads(pickle.dumps(verifier)).origin == task.origin
    pool = open_pool(verifier, workers=1)
    try:
        remote = pool.submit(problem, "0").result()
    finally:
        pool.close()
    assert remote.outcome is Outcome.ERROR and "my-plugin" in remote.detail


def test_a_verifier_that_cannot_be_built_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match=r"task 'toy': verifier\(\) raised OSError: no model file"):
        task_verifier(FactoryFails(ToyArgs(count=1), TaskContext()))
    with pytest.raises(RegistryError, match="which is not a Verifier"):
        task_verifier(NotAVerifier(ToyArgs(count=1), TaskContext()))

"""Reference solutions of real benchmarks are ACCEPTED and trivial answers are not, on every
available backend. HumanEval: all 164. MBPP: the whole test split (500). P3: a fixed sample
of puzzles with all their bodies here; every body of every puzzle under ``slow`` (and in
benchmarks/code_selfcheck.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from verigen_tasks.code.p3 import KNOWN_UNVERIFIABLE
from verigen_tasks.code.selfcheck import SelfCheck, check_all

from tests.conftest import skip_or_fail
from verigen.task import Task, TaskContext, create_task
from verigen.types import Problem

BACKENDS = [pytest.param("bwrap", marks=pytest.mark.bwrap), pytest.param("docker", marks=pytest.mark.docker)]


def _backend(name: str) -> str:
    from verigen.sandbox import select

    probe = select.bwrap_unavailable_reason if name == "bwrap" else select.docker_unavailable_reason
    reason = probe()
    if reason is not None:
        skip_or_fail(name, reason)
    return name


def _check(name: str, backend: str, data: Path, split: str, *, trivial: bool,
           every: int = 1, limit: int | None = None, **args: object) -> list[SelfCheck]:
    task: Task[object] = create_task(name, args, TaskContext(data_dir=data, sandbox=_backend(backend)))
    problems: list[Problem[object]] = list(task.problems(split=split, seed=0))[::every][:limit]
    verifier = task.verifier()
    try:
        return check_all(task, problems, verifier, workers=2, check_trivial=trivial)
    finally:
        verifier.close()


def _failures(checks: list[SelfCheck]) -> list[str]:
    """Failing problems, leaving out the documented P3 exclusions."""
    return [f"{c.problem_id}: {c.failures}" for c in checks
            if not c.ok and c.problem_id.removeprefix("p3/") not in KNOWN_UNVERIFIABLE]


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_humaneval_references_accepted(shared_data: Path, backend: str) -> None:
    checks = _check("humaneval", backend, shared_data, "test", trivial=False)
    assert len(checks) == 164
    assert not _failures(checks)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mbpp_test_split_references_accepted(shared_data: Path, backend: str) -> None:
    checks = _check("mbpp", backend, shared_data, "test", trivial=False)
    assert len(checks) == 500
    assert not _failures(checks)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "split", "args"), [
    ("humaneval", "test", {}),
    ("mbpp", "test", {"variant": "sanitized"}),
    ("apps", "test", {}),
    ("apps", "test", {"file": "apps/selected150.jsonl"}),
    ("p3", "test", {}),
])
def test_trivial_answers_not_accepted(shared_data: Path, backend: str, name: str, split: str,
                                      args: dict[str, object]) -> None:
    checks = _check(name, backend, shared_data, split, trivial=True, every=17, limit=8, **args)
    assert checks
    assert not _failures(checks)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_p3_sample_all_bodies_accepted(shared_data: Path, backend: str, split: str) -> None:
    checks = _check("p3", backend, shared_data, split, trivial=False, every=40)
    assert sum(c.references for c in checks) >= 15
    assert not _failures(checks)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("split", ["train", "test"])
def test_p3_every_body_accepted(shared_data: Path, backend: str, split: str) -> None:
    checks = _check("p3", backend, shared_data, split, trivial=False)
    assert not _failures(checks)

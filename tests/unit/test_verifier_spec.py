"""``VerifierSpec``: what travels to a remote worker instead of a live verifier. It pickles,
and the verifier a fresh process builds from it judges like the driver's own."""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
from pathlib import Path

import pytest

from tests.unit._toy import ToyArgs, ToyTask
from verigen.config import build_config
from verigen.engine import VerifierSpec, plan
from verigen.errors import UsageError
from verigen.task import TaskContext
from verigen.types import Outcome, Problem, Verdict


def _plan(tmp_path: Path, *sets: str):  # type: ignore[no-untyped-def]
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps({"*": ["\\boxed{1}"]}))
    cfg = build_config(overrides=[f"output.out={tmp_path / 'run'}", "model.backend=fake", f"model.name={sf}", *sets])
    return plan(cfg)


def _verify_in_fresh_process(blob: bytes, problem: Problem[object], texts: list[str]) -> list[Verdict]:
    """Build the verifier from the pickled spec in a spawned interpreter (nothing inherited)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_build_and_verify, (blob, problem, texts))


def _build_and_verify(blob: bytes, problem: Problem[object], texts: list[str]) -> list[Verdict]:
    spec = pickle.loads(blob)
    verifier = spec.build()
    try:
        return [verifier.verify(problem, t) for t in texts]
    finally:
        verifier.close()


def test_spec_of_a_plan_pickles_and_builds_the_same_verifier_elsewhere(tmp_path: Path) -> None:
    p = _plan(tmp_path, "task.name=arithmetic", "task.args.count=3", "task.args.difficulty=2")
    spec = VerifierSpec.of(p)
    assert spec.task == "arithmetic"
    assert dict(spec.args) == {"count": "3", "difficulty": "2"}
    blob = pickle.dumps(spec)
    assert pickle.loads(blob) == spec
    problem = p.problems[0]
    gold = problem.reference.text  # type: ignore[attr-defined]
    texts = [f"so \\boxed{{{gold}}}", f"\\boxed{{{gold}1}}", "no idea"]
    remote = _verify_in_fresh_process(blob, problem, texts)
    assert [v.outcome for v in remote] == [Outcome.ACCEPTED, Outcome.REJECTED, Outcome.NO_ANSWER]
    local = p.task.verifier()
    try:
        assert [local.verify(problem, t) for t in texts] == remote
        assert (remote[0].verifier, remote[0].verifier_version) == (local.name, local.version)
    finally:
        local.close()


def test_spec_carries_the_resolved_context(tmp_path: Path) -> None:
    p = _plan(tmp_path, "task.name=arithmetic", f"task.data_dir={tmp_path}", "sandbox.backend=bwrap")
    spec = VerifierSpec.of(p)
    assert spec.context() == TaskContext(data_dir=tmp_path, sandbox="bwrap")


def test_a_code_verifier_travels_as_a_spec_though_it_does_not_pickle(tmp_path: Path, shared_data: Path) -> None:
    p = _plan(tmp_path, "task.name=p3", "task.limit=1", f"task.data_dir={shared_data}", "sandbox.backend=bwrap")
    live = p.task.verifier()
    try:
        with pytest.raises((TypeError, pickle.PicklingError)):
            pickle.dumps(live)  # holds a lock (and, once used, a warm sandbox runner)
    finally:
        live.close()
    spec = pickle.loads(pickle.dumps(VerifierSpec.of(p)))
    built = spec.build()
    try:
        assert (built.name, built.version) == (live.name, live.version)
    finally:
        built.close()


def test_a_task_that_is_not_registered_has_no_spec(tmp_path: Path) -> None:
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps({"*": ["0"]}))
    cfg = build_config(overrides=[f"output.out={tmp_path / 'run'}", "model.backend=fake", f"model.name={sf}",
                                  "task.name=toy"])
    p = plan(cfg, ToyTask(ToyArgs(count=2), TaskContext()))
    with pytest.raises(UsageError, match=r"task 'toy' is not a registered task"):
        VerifierSpec.of(p)

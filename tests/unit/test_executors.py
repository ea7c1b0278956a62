"""Executor options, and the Ray feed's batching, backpressure and retries against scripted
actors (a stand-in for the ``ray`` module: the real cluster is tested in
tests/integration/test_ray_executor.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from verigen.engine import SamplerSpec
from verigen.errors import UsageError
from verigen.executors import ExecutorOptions, RayOptions
from verigen.sampling.base import SampleOutput, SampleRequest
from verigen.sampling.fake import FakeOptions
from verigen.types import ChatMessage, Completion, Outcome, Problem, SamplingParams, Verdict


class RayError(Exception):
    pass


class FakeRay:
    """``wait``, ``get``, ``cancel`` and ``exceptions.RayError`` over concurrent futures."""

    class exceptions:  # mirrors ray.exceptions
        RayError = RayError

    def wait(self, refs: list[Future[Any]], num_returns: int = 1, timeout: float | None = None) -> tuple[list[Any], list[Any]]:
        done, rest = wait(refs, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done), list(rest)

    def get(self, ref: Future[Any]) -> Any:
        return ref.result()

    def cancel(self, ref: Future[Any], force: bool = False) -> None:
        ref.cancel()


class Method:
    def __init__(self, pool: ThreadPoolExecutor, fn: Callable[..., Any]) -> None:
        self._pool, self._fn = pool, fn

    def remote(self, *args: Any) -> Future[Any]:
        return self._pool.submit(self._fn, *args)


class Actor:
    """Answers like a verifier or sampler actor; the first ``fail`` calls die as a killed actor's do."""

    def __init__(self, fail: int = 0, gate: threading.Event | None = None) -> None:
        self._pool = ThreadPoolExecutor(4)
        self.fail, self.gate, self.calls = fail, gate, 0
        self.verify = Method(self._pool, self._verify)
        self.sample = Method(self._pool, self._sample)

    def _enter(self) -> None:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            self.fail -= 1
            raise RayError("ActorDiedError: the actor died unexpectedly")

    def _verify(self, key: Any, jobs: list[tuple[Problem[Any], str]]) -> list[Verdict]:
        self._enter()
        return [Verdict(outcome=Outcome.ACCEPTED if text == "ok" else Outcome.REJECTED, verifier="v", verifier_version="1")
                for _, text in jobs]

    def _sample(self, spec: Any, requests: list[SampleRequest], params: SamplingParams) -> list[SampleOutput]:
        self._enter()
        return [SampleOutput(problem_id=r.problem_id, index=i, completion=Completion(text=f"{r.problem_id}:{i}"))
                for r in requests for i in r.indices]


SPEC = SamplerSpec(backend="fake", model="echo", options=FakeOptions())
KEY = ("a verifier source", 1, None)


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(sys.modules, "ray", FakeRay())
    from verigen.executors import _ray_feed

    monkeypatch.setattr(_ray_feed, "RETRY_DELAY_S", 0.0)
    return _ray_feed


def problem(i: int) -> Problem[object]:
    return Problem(id=f"p{i}", task="t", prompt="?", reference=None)


def test_a_lost_verification_batch_is_sent_again_and_every_check_answered_once(feed: Any) -> None:
    actors = [Actor(fail=1), Actor()]
    pool = feed.RayVerifyPool(actors, RayOptions(verify_batch=3), KEY, verifier="v", version="1")
    futures = [pool.submit(problem(i), "ok" if i % 2 else "no") for i in range(10)]
    outcomes = [f.result(timeout=10).outcome for f in futures]
    pool.close()
    assert outcomes == [Outcome.ACCEPTED if i % 2 else Outcome.REJECTED for i in range(10)]
    assert pool.retried == 1


def test_a_batch_that_fails_every_attempt_is_error_never_a_verdict(feed: Any) -> None:
    pool = feed.RayVerifyPool([Actor(fail=99)], RayOptions(verify_batch=2, max_attempts=3), KEY, verifier="v", version="1")
    verdicts = [f.result(timeout=10) for f in [pool.submit(problem(i), "ok") for i in range(3)]]
    pool.close()
    assert {v.outcome for v in verdicts} == {Outcome.ERROR}
    assert "failed on 3 Ray actors" in verdicts[0].detail and "ActorDiedError" in verdicts[0].detail
    assert (verdicts[0].verifier, verdicts[0].verifier_version) == ("v", "1")


def test_submit_blocks_while_the_in_flight_bound_is_reached(feed: Any) -> None:
    gate = threading.Event()
    pool = feed.RayVerifyPool([Actor(gate=gate)], RayOptions(verify_batch=1, in_flight=2), KEY, verifier="v", version="1")
    first = [pool.submit(problem(i), "ok") for i in range(2)]  # two batches out: the bound
    third: list[Future[Verdict]] = []
    blocked = threading.Thread(target=lambda: third.append(pool.submit(problem(2), "ok")))
    blocked.start()
    time.sleep(0.3)
    assert blocked.is_alive() and not third, "a third batch went out past the bound"
    gate.set()
    blocked.join(5)
    assert not blocked.is_alive()
    assert [f.result(timeout=5).outcome for f in [*first, *third]] == [Outcome.ACCEPTED] * 3
    pool.close()


def test_a_partial_batch_goes_out_without_waiting_for_more(feed: Any) -> None:
    pool = feed.RayVerifyPool([Actor()], RayOptions(verify_batch=100), KEY, verifier="v", version="1")
    assert pool.submit(problem(0), "ok").result(timeout=5).outcome is Outcome.ACCEPTED
    pool.close()


def _requests(count: int, n: int) -> list[SampleRequest]:
    return [SampleRequest(problem_id=f"p{i}", messages=(ChatMessage(role="user", content="?"),), indices=tuple(range(n)))
            for i in range(count)]


def test_a_lost_generation_batch_is_sampled_again_and_nothing_comes_twice(feed: Any) -> None:
    actors = [Actor(fail=2), Actor()]
    sampler = feed.RaySampler(actors, RayOptions(request_batch=2, in_flight=1), SPEC, name="fake", model_id="m")
    keys = [(o.problem_id, o.index) for o in sampler.stream(_requests(7, 3), SamplingParams(n=3))]
    assert sorted(keys) == sorted((f"p{i}", j) for i in range(7) for j in range(3))
    assert sampler.retried == 2


def test_a_generation_batch_that_fails_every_attempt_fails_the_run(feed: Any) -> None:
    sampler = feed.RaySampler([Actor(fail=99)], RayOptions(max_attempts=2), SPEC, name="fake", model_id="m")
    with pytest.raises(RuntimeError, match="failed on 2 Ray actors in a row"):
        list(sampler.stream(_requests(2, 1), SamplingParams(n=1)))


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"kind": "slurm"}, "bad --executor 'slurm': expected one of local, ray"),
        ({"kind": "local", "ray_address": "h:1"}, "--ray-address needs --executor ray"),
        ({"kind": "local", "ray_verifiers": 2}, "--ray-verifiers needs --executor ray"),
        ({"kind": "ray", "ray_samplers": 0}, "bad Ray option samplers=0"),
        ({"kind": "ray", "ray_address": " "}, "--ray-address is empty"),
        ({"kind": "ray", "ray_generation": "tasks"}, "bad --ray-generation 'tasks': expected one of actors, data"),
        ({"kind": "local", "ray_generation": "data"}, "--ray-generation needs --executor ray"),
        ({"kind": "ray", "ray_sampler_gpus": -1.0}, "bad Ray option sampler_gpus=-1.0: must be >= 0"),
    ],
)
def test_bad_executor_options_name_the_value(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        ExecutorOptions.parse(**kwargs)


@pytest.mark.parametrize(("flags", "needle"), [
    (["--executor", "slurm"], "bad --executor 'slurm'"),
    (["--executor", "ray", "--ray-generation", "tasks"], "bad --ray-generation 'tasks'"),
])
def test_cli_refuses_a_bad_executor_with_exit_2_before_writing(flags: list[str], needle: str, tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "generate", "--backend", "fake", "--model", "echo",
                          *flags, "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_a_ray_address_where_nothing_listens_is_exit_2_at_once(tmp_path: Path) -> None:
    if importlib.util.find_spec("ray") is None:
        skip_or_fail("ray", "ray is not installed (pip install 'verigen[ray]')")
    start = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "generate", "--backend", "fake", "--model", "echo",
                          "--limit", "2", "-n", "1", "--executor", "ray", "--ray-address", "127.0.0.1:1",
                          "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "--ray-address '127.0.0.1:1': no Ray cluster answers there" in res.stderr and "Traceback" not in res.stderr
    assert time.monotonic() - start < 60  # Ray on its own retries for minutes
    assert not (tmp_path / "run").exists()


# The session a loop keeps for all its stages, on actors that run the real worker classes
# in threads of this process (Ray's part, placing and restarting them, is the stand-in's).


class Handle:
    """An actor handle: ``handle.method.remote(...)`` runs on the actor's instance."""

    def __init__(self, cls: type, args: tuple[Any, ...]) -> None:
        self.cls, self.args = cls, args
        self.instance = cls(*args)
        self.killed = False
        self._pool = ThreadPoolExecutor(1)  # an actor runs one call at a time

    def restart(self) -> None:
        """What Ray does to a crashed actor: its constructor again, state gone."""
        self.instance = self.cls(*self.args)

    def __getattr__(self, name: str) -> Method:
        def call(*args: Any) -> Any:
            try:
                return getattr(self.instance, name)(*args)
            except Exception as exc:  # as Ray hands an actor's exception to the caller
                raise RayError(f"RayTaskError({type(exc).__name__}): {exc}") from exc

        return Method(self._pool, call)


class ActorRay(FakeRay):
    def __init__(self) -> None:
        self.handles: list[Handle] = []

    def is_initialized(self) -> bool:
        return True  # an application's own connection: the session neither opens nor closes it

    def remote(self, **options: Any) -> Callable[[type], Any]:
        ray = self

        class Remote:
            def __init__(self, cls: type) -> None:
                self.cls = cls

            def remote(self, *args: Any) -> Handle:
                handle = Handle(self.cls, args)
                ray.handles.append(handle)
                return handle

        return Remote

    def wait(self, refs: list[Future[Any]], num_returns: int = 1, timeout: float | None = None) -> tuple[list[Any], list[Any]]:
        if num_returns < len(refs):
            return super().wait(refs, num_returns, timeout)
        done, rest = wait(refs, timeout=timeout)
        return list(done), list(rest)

    def get(self, ref: Any, timeout: float | None = None) -> Any:
        return [r.result(timeout) for r in ref] if isinstance(ref, list) else ref.result(timeout)

    def kill(self, handle: Handle, no_restart: bool = False) -> None:
        handle.killed = True


@dataclass(frozen=True)
class Judge:
    """A ``VerifierSource``: accepts the texts equal to ``good``."""

    good: str

    def build(self) -> Any:
        from verigen.verify.base import Verifier

        class Equal:
            name, version, needs_process_isolation, time_limit_s = "equal", self.good, False, 5.0

            def verify(self, problem: Problem[Any], completion: str) -> Verdict:
                ok = completion == self.version
                return Verdict(outcome=Outcome.ACCEPTED if ok else Outcome.REJECTED, verifier=self.name,
                               verifier_version=self.version)

            def close(self) -> None:
                return None

        verifier: Verifier = Equal()
        return verifier


@pytest.fixture
def actor_ray(monkeypatch: pytest.MonkeyPatch) -> ActorRay:
    ray = ActorRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    return ray


def _texts(sampler: Any, n: int = 2) -> list[str]:
    requests = _requests(3, n)
    return sorted(o.completion.text for o in sampler.stream(requests, SamplingParams(n=n)))


def test_a_ray_session_keeps_its_actors_and_loads_a_new_policy_in_them(actor_ray: ActorRay, tmp_path: Path) -> None:
    from verigen.executors._ray import ray_session

    policy = tmp_path / "policy.json"  # the "checkpoint" the M-step writes: a script the fake backend reads
    policy.write_text('{"*": ["from the new policy"]}')
    new = SamplerSpec(backend="fake", model=str(policy), options=FakeOptions())
    with ray_session(RayOptions(samplers=2, verifiers=2, request_batch=1)) as remote:
        first = remote.sampler(SPEC)
        assert remote.sampler(SPEC) is first  # same policy: nothing loaded again
        assert _texts(first) == ["?"] * 6 and first.model_id == "fake:echo"
        samplers = list(actor_ray.handles)
        assert len(samplers) == 2 and all(h.instance._spec == SPEC for h in samplers)
        remote.release_sampler()  # before the M-step: the models are closed, the actors stay
        assert all(h.instance._sampler is None and not h.killed for h in samplers)
        second = remote.sampler(new)
        assert actor_ray.handles == samplers, "a new policy started new actors"
        assert second.model_id == f"fake:{policy}" and all(h.instance._spec == new for h in samplers)
        samplers[0].restart()  # a crashed actor comes back empty and loads the policy of its next batch
        assert _texts(second) == ["from the new policy"] * 6

        pool = remote.pool(Judge("?"), workers=1)
        assert remote.pool(Judge("?"), workers=1) is pool
        verifiers = actor_ray.handles[2:]
        other = remote.pool(Judge("!"), workers=1)  # another verifier: a pool of its own in the same actors
        assert actor_ray.handles[2:] == verifiers and len(verifiers) == 2
        verifiers[1].restart()
        outcomes = [f.result(timeout=10).outcome for f in [pool.submit(problem(i), "?") for i in range(5)]]
        assert outcomes == [Outcome.ACCEPTED] * 5
        assert other.submit(problem(0), "?").result(timeout=10).outcome is Outcome.REJECTED
    assert all(h.killed for h in actor_ray.handles)


def test_a_checkpoint_missing_on_a_node_names_the_shared_storage_it_needs(actor_ray: ActorRay, tmp_path: Path) -> None:
    from verigen.errors import InfrastructureError
    from verigen.executors._ray import ray_session

    gone = SamplerSpec(backend="fake", model=str(tmp_path / "iter_1" / "checkpoint"), options=FakeOptions())
    with ray_session(RayOptions()) as remote, pytest.raises(InfrastructureError, match="storage every node mounts"):
        remote.sampler(gone)


def test_a_local_session_reuses_its_sampler_until_the_spec_changes(tmp_path: Path) -> None:
    from verigen.executors import session

    policy = tmp_path / "policy.json"
    policy.write_text('{"*": ["new"]}')
    with session() as local:
        first = local.sampler(SPEC)
        assert local.sampler(SPEC) is first
        local.release_sampler()
        again = local.sampler(SPEC)
        assert again is not first
        changed = local.sampler(SamplerSpec(backend="fake", model=str(policy), options=FakeOptions()))
        assert _texts(changed) == ["new"] * 6
        pool = local.pool(Judge("new"), workers=1)
        assert local.pool(Judge("new"), workers=1) is pool
        assert pool.submit(problem(0), "new").result(timeout=10).outcome is Outcome.ACCEPTED


@pytest.mark.parametrize("command", [
    ["rest", "--task", "arithmetic", "--eval-task", "arithmetic", "--backend", "fake", "--model", "echo"],
    ["selfplay", "--backend", "fake", "--model", "echo"],
])
def test_the_loops_take_the_executor_options_and_refuse_bad_ones_before_writing(command: list[str], tmp_path: Path) -> None:
    for flags, needle in ((["--executor", "slurm"], "bad --executor 'slurm'"),
                          (["--ray-samplers", "2"], "--ray-samplers needs --executor ray"),
                          (["--executor", "ray", "--ray-generation", "x"], "bad --ray-generation 'x'")):
        res = subprocess.run([sys.executable, "-m", "verigen.cli", *command, *flags, "--out", str(tmp_path / "o")],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and needle in res.stderr and "Traceback" not in res.stderr, res.stderr
        assert not (tmp_path / "o").exists()


class _Rows:
    """A stand-in for the Ray Data pipeline: the real ``GenerateBatch`` on pyarrow batches
    in this process; ``again`` delivers the first batch a second time (a retried task)."""

    def __init__(self, requests: list[SampleRequest], params: SamplingParams, again: bool) -> None:
        import json

        import pyarrow as pa

        from verigen.executors._workers import GenerateBatch

        udf = GenerateBatch(str(Path.cwd()), SPEC, params)
        table = pa.Table.from_pylist([{"problem_id": r.problem_id, "indices": list(r.indices),
                                       "messages": json.dumps([m.to_json() for m in r.messages])} for r in requests])
        self.batches = [udf(table.slice(i, 2)) for i in range(0, len(requests), 2)]
        if again:
            self.batches.append(self.batches[0])

    def iter_rows(self) -> Any:
        for batch in self.batches:
            yield from batch.to_pylist()


@pytest.mark.parametrize("again", [False, True])
def test_the_ray_data_sampler_answers_each_sample_once_and_frees_its_probe(actor_ray: ActorRay, again: bool) -> None:
    if importlib.util.find_spec("pyarrow") is None:
        skip_or_fail("ray", "pyarrow is not installed (pip install 'verigen[ray]')")
    from verigen.executors._ray_data import RayDataSampler

    sampler = RayDataSampler(actor_ray, RayOptions(generation="data"), SPEC, restarts=0, start_timeout_s=10)
    assert (sampler.name, sampler.model_id) == ("fake", SPEC.open().model_id)  # from the probe actor
    requests, params = _requests(5, 2), SamplingParams(n=2)
    assert sampler.provenance(params) == SPEC.open().provenance(params)
    sampler.pipeline = lambda reqs, p: _Rows(list(reqs), p, again)  # type: ignore[method-assign]
    got = list(sampler.stream(requests, params))
    assert sorted((o.problem_id, o.index) for o in got) == [(f"p{i}", k) for i in range(5) for k in range(2)]
    local = {(o.problem_id, o.index): o.completion for o in SPEC.open().stream(requests, params)}
    assert {(o.problem_id, o.index): o.completion for o in got} == local
    assert sampler.duplicates == (4 if again else 0)
    assert actor_ray.handles[0].killed  # the probe's model is freed before the pipeline runs

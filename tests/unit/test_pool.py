from __future__ import annotations

import pytest

from tests.unit._toy import Gold, ToyVerifier
from verigen.types import Outcome, Problem
from verigen.verify.pool import ProcessVerifyPool, ThreadVerifyPool, verify_all

PROBLEM = Problem(id="p", task="toy", prompt="", reference=Gold(text="7"))


@pytest.fixture(scope="module")
def pool() -> ProcessVerifyPool:
    p = ProcessVerifyPool(ToyVerifier(), workers=2, time_limit_s=1.0)
    yield p
    p.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", Outcome.ACCEPTED),
        ("8", Outcome.REJECTED),
        ("", Outcome.NO_ANSWER),
        ("hang", Outcome.TIMEOUT),
        ("raise", Outcome.ERROR),
        ("crash", Outcome.ERROR),
    ],
)
def test_process_pool_outcomes(pool: ProcessVerifyPool, text: str, expected: Outcome) -> None:
    verdict = pool.submit(PROBLEM, text).result(timeout=30)
    assert verdict.outcome is expected, verdict
    assert verdict.verifier == "toy"


def test_pool_recovers_after_faults_and_keeps_order(pool: ProcessVerifyPool) -> None:
    texts = ["hang", "7", "crash", "8", "7"]
    outcomes = [v.outcome for v in verify_all(pool, [(PROBLEM, t) for t in texts], window=2)]
    assert outcomes == [Outcome.TIMEOUT, Outcome.ACCEPTED, Outcome.ERROR, Outcome.REJECTED, Outcome.ACCEPTED]


def test_timeout_is_per_check_and_the_pool_can_be_used_from_threads(pool: ProcessVerifyPool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda t: pool.submit(PROBLEM, t).result(timeout=30).outcome, ["7"] * 8))
    assert results == [Outcome.ACCEPTED] * 8


def test_thread_pool_turns_exceptions_into_error() -> None:
    class Raising(ToyVerifier):
        needs_process_isolation = False

    p = ThreadVerifyPool(Raising(), workers=1)
    try:
        assert p.submit(PROBLEM, "raise").result().outcome is Outcome.ERROR
        assert p.submit(PROBLEM, "7").result().outcome is Outcome.ACCEPTED
    finally:
        p.close()


class _Counting(ToyVerifier):
    """Counts checks; ``flaky`` answers ERROR on its first check, then judges."""

    needs_process_isolation = False

    def __init__(self) -> None:
        self.checks: list[str] = []

    def verify(self, problem: Problem[object], completion: str) -> object:  # type: ignore[override]
        self.checks.append(completion)
        if completion == "flaky" and self.checks.count("flaky") == 1:
            from verigen.types import Verdict

            return Verdict(outcome=Outcome.ERROR, detail="sandbox fault", verifier="toy")
        return super().verify(problem, "7" if completion == "flaky" else completion)

    def cache_key(self, problem: Problem[object], completion: str) -> str:
        return completion.strip()  # judges "7" and " 7 " alike


def test_identical_candidates_are_checked_once_but_errors_are_not_shared() -> None:
    from verigen.verify.pool import open_pool

    verifier = _Counting()
    pool = open_pool(verifier, workers=1)
    try:
        texts = ["7", " 7 ", "8", "7", "flaky", "flaky"]
        outcomes = [pool.submit(PROBLEM, t).result(timeout=10).outcome for t in texts]
        other = pool.submit(Problem(id="q", task="toy", prompt="", reference=Gold(text="8")), "8").result()
    finally:
        pool.close()
    assert outcomes == [Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ACCEPTED,
                        Outcome.ERROR, Outcome.ACCEPTED]
    # "7" once, "8" once, "flaky" twice (its ERROR was not shared), and "8" again for problem q
    assert sorted(verifier.checks) == ["7", "8", "8", "flaky", "flaky"]
    assert other.outcome is Outcome.ACCEPTED


def test_default_workers_follow_the_verifier_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from verigen.sandbox.base import RUNNERS_PER_CORE
    from verigen.verify.pool import default_workers, open_pool

    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    inproc, sandboxed = ToyVerifier(), ToyVerifier()
    inproc.needs_process_isolation = True  # type: ignore[misc]
    sandboxed.needs_process_isolation = False  # type: ignore[misc]
    assert default_workers(inproc) == 3
    assert default_workers(sandboxed) == RUNNERS_PER_CORE * 3
    pool = open_pool(sandboxed, workers=None, dedup=False)
    try:
        assert isinstance(pool, ThreadVerifyPool)
        assert pool._executor._max_workers == RUNNERS_PER_CORE * 3
    finally:
        pool.close()


def test_a_run_resumes_with_other_verify_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """verify.workers changes speed, never results: a resumed run may set it differently,
    any other setting still refuses."""
    import tomli_w

    from verigen.config import build_config, to_toml_dict
    from verigen.errors import UsageError
    from verigen.rundir import CONFIG, RunDir

    old = build_config(overrides=["verify.workers=2"])
    (tmp_path / CONFIG).write_text(tomli_w.dumps(to_toml_dict(old)))
    assert RunDir.check(tmp_path, build_config(overrides=["verify.workers=7"])) is True
    assert RunDir.check(tmp_path, build_config()) is True
    with pytest.raises(UsageError, match=r"sampling\.n"):
        RunDir.check(tmp_path, build_config(overrides=["verify.workers=2", "sampling.n=3"]))

"""The runner's resident trusted side (runner.py ``_Resident``, harness.py ``resident_main``),
at the transport level: the runner as a plain host subprocess (no isolation; isolation is
tested on the real backends in tests/integration/test_code_attacks.py).

The trusted test code below prints its own pid on the request's stderr, so a test sees
which process served a job. The candidate finds the resident side as its sibling (both
are children of the zygote, the candidate's parent) and attacks it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from verigen.sandbox._runner_client import RunnerPool, unsandboxed_transport
from verigen.sandbox.types import ExecResult, ExecStatus, Limits
from verigen.verify._code_exec import HarnessJob, harness_request, parse_report

PID_SETUP = "import os, sys\nprint('trusted-pid', os.getpid(), file=sys.stderr, flush=True)\n"
HONEST = "def add(a, b):\n    return a + b\n"
LIMITS = Limits(timeout_s=5.0, memory_mb=512)
# The candidate's siblings: every other child of the zygote (its parent).
SIBLINGS = ("import os, signal\n"
            "def siblings():\n"
            "    me, parent = os.getpid(), os.getppid()\n"
            "    out = []\n"
            "    for tid in os.listdir(f'/proc/{parent}/task'):\n"
            "        with open(f'/proc/{parent}/task/{tid}/children') as fh:\n"
            "            out += [int(p) for p in fh.read().split() if int(p) != me]\n"
            "    return out\n")


@pytest.fixture()
def pool() -> Iterator[RunnerPool]:
    p = RunnerPool(unsandboxed_transport, 1)  # one runner: every job meets the same resident side
    yield p
    p.close()


def _run(pool: RunnerPool, candidate: str, *, limits: Limits = LIMITS, resident: bool = True,
         tests: tuple[str, ...] = ("assert add(1, 2) == 3", "assert add(2, 2) == 4")) -> ExecResult:
    job = HarnessJob(mode="tests", candidate=candidate, setup=PID_SETUP, tests=tests, entry_point="add")
    req = harness_request(job, limits)
    if not resident:
        from dataclasses import replace

        req = replace(req, resident=False)
    return pool.run(req)


def _trusted_pid(result: ExecResult) -> int:
    found = re.findall(r"trusted-pid (\d+)", result.stderr)
    assert len(found) == 1, result
    return int(found[0])


def _passed(result: ExecResult) -> int | None:
    report = parse_report(result.stdout)
    return None if report is None else report.passed


def test_one_resident_side_serves_consecutive_jobs(pool: RunnerPool) -> None:
    first, second = _run(pool, HONEST), _run(pool, HONEST)
    assert (_passed(first), _passed(second)) == (2, 2), (first, second)
    assert _trusted_pid(first) == _trusted_pid(second)
    fresh = [_run(pool, HONEST, resident=False) for _ in range(2)]
    assert [_passed(r) for r in fresh] == [2, 2]
    pids = {_trusted_pid(r) for r in fresh}
    assert len(pids) == 2 and _trusted_pid(first) not in pids  # a fresh process each, not the resident one


def test_a_wrong_answer_is_reported_by_the_resident_side(pool: RunnerPool) -> None:
    result = _run(pool, "def add(a, b):\n    return a - b\n")
    assert result.status is ExecStatus.EXITED and _passed(result) == 0, result


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGPIPE", "SIGALRM"])
def test_catchable_signals_do_not_reach_the_resident_side(pool: RunnerPool, sig: str) -> None:
    before = _trusted_pid(_run(pool, HONEST))
    attack = SIBLINGS + f"for pid in siblings():\n    os.kill(pid, signal.{sig})\n" + "def add(a, b):\n    return 0\n"
    result = _run(pool, attack)
    assert _passed(result) == 0, result  # still judged, and judged wrong
    after = _run(pool, HONEST)
    assert _passed(after) == 2 and _trusted_pid(after) == before


def test_a_killed_resident_side_costs_the_killer_only(pool: RunnerPool) -> None:
    before = _trusted_pid(_run(pool, HONEST))
    attack = SIBLINGS + "for pid in siblings():\n    os.kill(pid, signal.SIGKILL)\n" + HONEST
    result = _run(pool, attack)
    assert _passed(result) is None and result.status is not ExecStatus.SANDBOX_ERROR, result  # REJECTED upstream
    after = _run(pool, HONEST)
    assert _passed(after) == 2, after
    assert _trusted_pid(after) != before  # a new resident side


def test_a_stopped_resident_side_is_a_timeout_and_replaced(pool: RunnerPool) -> None:
    before = _trusted_pid(_run(pool, HONEST))
    attack = SIBLINGS + "for pid in siblings():\n    os.kill(pid, signal.SIGSTOP)\n" + HONEST
    result = _run(pool, attack, limits=Limits(timeout_s=1.0, memory_mb=512))
    assert result.status is ExecStatus.TIMEOUT and _passed(result) is None, result
    after = _run(pool, HONEST)
    assert _passed(after) == 2 and _trusted_pid(after) != before


def test_a_stop_continued_at_once_still_replaces_the_resident_side(pool: RunnerPool) -> None:
    """Stopped and continued inside one job: its vitals look normal after; the job was judged
    (the resident side never ran candidate code), the next one too."""
    attack = SIBLINGS + ("for pid in siblings():\n    os.kill(pid, signal.SIGSTOP)\n"
                         "for pid in siblings():\n    os.kill(pid, signal.SIGCONT)\n") + HONEST
    result = _run(pool, attack)
    assert result.status in (ExecStatus.EXITED, ExecStatus.TIMEOUT), result
    after = _run(pool, HONEST)
    assert _passed(after) == 2, after


def test_other_limits_get_a_resident_side_of_their_own(pool: RunnerPool) -> None:
    a = _trusted_pid(_run(pool, HONEST))
    b = _trusted_pid(_run(pool, HONEST, limits=Limits(timeout_s=5.0, memory_mb=768)))
    c = _trusted_pid(_run(pool, HONEST, limits=Limits(timeout_s=5.0, memory_mb=768)))
    assert a != b and b == c


def test_a_huge_answer_does_not_poison_the_next_job(pool: RunnerPool) -> None:
    """The candidate makes the trusted side decode a large value under a small memory limit;
    whatever that costs it, the next honest job on the same runner is judged right."""
    limits = Limits(timeout_s=5.0, memory_mb=256)
    big = "def add(a, b):\n    return [list(range(1000))] * 40000\n"
    result = _run(pool, big, limits=limits)
    assert _passed(result) in (None, 0), result
    for _ in range(3):
        assert _passed(_run(pool, HONEST, limits=limits)) == 2


def test_trusted_state_is_reset_between_jobs(pool: RunnerPool) -> None:
    """What a job's trusted code changes in the interpreter's search path and recursion limit
    does not carry over to the next job."""
    probe = ("import sys\nprint('state', sys.getrecursionlimit(), json.dumps(sys.path), file=sys.stderr)\n"
             "sys.setrecursionlimit(50000)\nsys.path.insert(0, '/tmp/evil')\n")
    job = HarnessJob(mode="tests", candidate=HONEST, setup="import json\n" + PID_SETUP + probe,
                     tests=("assert add(1, 2) == 3",), entry_point="add")
    first = pool.run(harness_request(job, LIMITS))
    second = pool.run(harness_request(job, LIMITS))
    states = [re.findall(r"state (\d+) (.*)", r.stderr)[0] for r in (first, second)]
    assert states[0] == states[1], states
    assert "/tmp/evil" not in json.loads(states[1][1])
    assert _trusted_pid(first) == _trusted_pid(second)

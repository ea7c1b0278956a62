"""The runner's ``batch`` op through ``RunnerPool.run_many`` (the real runner as a plain
subprocess, NO isolation): order, privacy between programs of one frame, and a program
that hits a limit mid-batch (the runner stops, the pool recycles it and runs the rest)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

from verigen.sandbox._runner_client import RunnerPool, unsandboxed_transport
from verigen.sandbox.types import ExecRequest, ExecStatus, Limits

LIMITS = Limits(timeout_s=2.0, memory_mb=512)


@pytest.fixture()
def pool() -> Iterator[RunnerPool]:
    with tempfile.TemporaryDirectory() as tmp:
        # One runner: run_many must batch (40 programs -> frames of 10 and fewer).
        runner_pool = RunnerPool(lambda: unsandboxed_transport(tmpdir=tmp), 1)
        try:
            yield runner_pool
        finally:
            runner_pool.close()


def test_batch_results_keep_input_order(pool: RunnerPool) -> None:
    requests = [ExecRequest(code=f"print({i})", limits=LIMITS) for i in range(40)]
    results = pool.run_many(requests)
    assert [(r.status, r.exit_code, r.stdout) for r in results] == [
        (ExecStatus.EXITED, 0, f"{i}\n") for i in range(40)
    ]


def test_programs_of_one_batch_do_not_see_each_other(pool: RunnerPool) -> None:
    code = (
        "import os, sys\n"
        "print(sorted(os.listdir('.')), os.getcwd() == sys.argv[1] if sys.argv[1:] else '')\n"
        "open('left.txt', 'w').write('x')\n"
    )
    results = pool.run_many([ExecRequest(code=code, limits=LIMITS) for _ in range(40)])
    assert all(r.status is ExecStatus.EXITED and r.exit_code == 0 for r in results)
    assert {r.stdout for r in results} == {"[] \n"}


@pytest.mark.parametrize(
    ("bad_code", "status", "recycled"),
    [
        ("import time; time.sleep(30)", ExecStatus.TIMEOUT, True),
        ("print('x' * 100_000)", ExecStatus.OUTPUT_LIMIT, True),
        ("import os, time; os.fork() or time.sleep(30)", ExecStatus.EXITED, False),  # leftover
    ],
)
def test_bad_program_mid_batch_does_not_touch_the_rest(
    pool: RunnerPool, bad_code: str, status: ExecStatus, recycled: bool
) -> None:
    limits = Limits(timeout_s=1.0, memory_mb=512, max_output_bytes=10_000)
    code = "import os; print({}, os.getppid())"
    requests = [ExecRequest(code=code.format(i), limits=limits) for i in range(40)]
    requests[5] = ExecRequest(code=bad_code, limits=limits)
    results = pool.run_many(requests)
    assert results[5].status is status
    others = {i: r.stdout.split() for i, r in enumerate(results) if i != 5}
    assert [int(out[0]) for out in others.values()] == [i for i in range(40) if i != 5]
    # The program after a limit runs in a fresh runner, never the one that served it.
    assert (others[4][1] != others[6][1]) is recycled
    assert pool.restarts == 0  # a recycle is not a fault

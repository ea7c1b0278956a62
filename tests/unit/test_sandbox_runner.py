"""The runner (sandboxes/python/runner.py) at the transport level: started as a plain host
subprocess, with NO isolation. This tests the protocol and the per-request process handling;
isolation is tested by the conformance suite on real backends (tests/integration)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from verigen.sandbox._runner_client import RunnerPool, unsandboxed_transport
from verigen.sandbox.types import ExecRequest, ExecStatus, Limits


@pytest.fixture(scope="module")
def pool() -> Iterator[RunnerPool]:
    p = RunnerPool(unsandboxed_transport, 2)
    yield p
    p.close()


FAST = Limits(timeout_s=1.0, max_output_bytes=4096)

CASES = [
    # (id, request, status, exit_code, stdout, stderr substring)
    ("hello", ExecRequest(code="print('hi')"), ExecStatus.EXITED, 0, "hi\n", ""),
    ("stdin", ExecRequest(code="import sys; print(sys.stdin.read()[::-1])", stdin=b"abc"),
     ExecStatus.EXITED, 0, "cba\n", ""),
    ("argv", ExecRequest(code="import sys; print(sys.argv)", argv=("a", "b c")),
     ExecStatus.EXITED, 0, "['main.py', 'a', 'b c']\n", ""),
    ("files+import", ExecRequest(code="import helper; print(open('d/x.txt').read())",
                                 files={"helper.py": b"print('imported')", "d/x.txt": b"data"}),
     ExecStatus.EXITED, 0, "imported\ndata\n", ""),
    ("exit code", ExecRequest(code="import sys; sys.exit(7)"), ExecStatus.EXITED, 7, "", ""),
    ("exit message", ExecRequest(code="import sys; sys.exit('bye')"), ExecStatus.EXITED, 1, "", "bye"),
    ("os._exit", ExecRequest(code="import os; print('x', flush=True); os._exit(4)"),
     ExecStatus.EXITED, 4, "x\n", ""),
    ("exception", ExecRequest(code="raise KeyError('k')"), ExecStatus.EXITED, 1, "", "KeyError: 'k'"),
    ("syntax error", ExecRequest(code="def ("), ExecStatus.EXITED, 1, "", "SyntaxError"),
    ("signal", ExecRequest(code="import os, signal; os.kill(os.getpid(), signal.SIGTERM)"),
     ExecStatus.EXITED, -15, "", ""),
    ("atexit", ExecRequest(code="import atexit; atexit.register(print, 'late')"),
     ExecStatus.EXITED, 0, "late\n", ""),
    ("timeout", ExecRequest(code="while True: pass", limits=FAST), ExecStatus.TIMEOUT, None, "", ""),
    ("output cap", ExecRequest(code="print('y' * 100000)", limits=FAST),
     ExecStatus.OUTPUT_LIMIT, None, "y" * 4096, ""),
    ("memory", ExecRequest(code="x = bytearray(1 << 34)", limits=Limits(memory_mb=256)),
     ExecStatus.MEMORY, 1, "", "MemoryError"),
    ("setup fails before the program", ExecRequest(code="print(1)", limits=Limits(memory_mb=1 << 50)),
     ExecStatus.SANDBOX_ERROR, None, "", ""),
    ("escaping file path", ExecRequest(code="print(1)", files={"../evil": b""}),
     ExecStatus.SANDBOX_ERROR, None, "", ""),
]


@pytest.mark.parametrize(("request_", "status", "code", "stdout", "stderr"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_runner_cases(pool: RunnerPool, request_: ExecRequest, status: ExecStatus,
                      code: int | None, stdout: str, stderr: str) -> None:
    result = pool.run(request_)
    assert result.status is status, result
    assert result.exit_code == code
    assert result.stdout == stdout
    assert stderr in result.stderr


def test_double_forked_grandchild_is_killed(pool: RunnerPool) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        print(os.getpid(), flush=True)\n"
        "        time.sleep(30)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
    )
    result = pool.run(ExecRequest(code=code))
    assert result.status is ExecStatus.EXITED, result
    pid = int(result.stdout)
    # Unsandboxed, the grandchild's pid is a host pid: it must be gone (not even a zombie).
    assert not os.path.exists(f"/proc/{pid}")


def test_work_dir_is_private_and_removed(pool: RunnerPool) -> None:
    first = pool.run(ExecRequest(code="import os; open('left.txt', 'w').write('x'); print(os.getcwd())"))
    again = pool.run(ExecRequest(code=f"import os; print(os.path.exists({first.stdout.strip()!r}))"))
    assert first.status is ExecStatus.EXITED and again.stdout == "False\n"


def test_a_program_that_kills_the_zygote_keeps_its_result_and_the_runner_is_replaced(pool: RunnerPool) -> None:
    # The program's parent is the runner's zygote; killing it is the program's doing: its
    # own result stands (never SANDBOX_ERROR), and the runner, no longer clean, is replaced.
    killer = pool.run(ExecRequest(code="import os, signal; os.kill(os.getppid(), signal.SIGKILL); print('done')"))
    assert killer.status is ExecStatus.EXITED and killer.stdout == "done\n", killer
    results = pool.run_many([ExecRequest(code="print(2)")] * 4)
    assert [r.stdout for r in results] == ["2\n"] * 4


def test_killing_the_runner_is_sandbox_error_then_recovers(pool: RunnerPool) -> None:
    # Possible only without isolation (in a sandbox the runner is PID 1 of its namespace).
    code = (
        "import os, signal\n"
        "zygote = os.getppid()\n"
        "runner = int(open(f'/proc/{zygote}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "os.kill(runner, signal.SIGKILL)\n"
    )
    dead = pool.run(ExecRequest(code=code))
    assert dead.status is ExecStatus.SANDBOX_ERROR
    results = pool.run_many([ExecRequest(code="print(2)")] * 4)
    assert [r.stdout for r in results] == ["2\n"] * 4

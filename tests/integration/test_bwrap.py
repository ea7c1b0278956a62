"""The bwrap backend end to end: ExecRequest cases and isolation details."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import ExecRequest, ExecStatus, Limits

pytestmark = pytest.mark.bwrap


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    from verigen.sandbox.bwrap import BwrapSandbox, bwrap_unavailable_reason

    reason = bwrap_unavailable_reason()
    if reason is not None:
        skip_or_fail("bwrap", reason)
    with BwrapSandbox(workers=2) as sb:
        yield sb


CASES = [
    ("stdin", ExecRequest(code="import sys; print(sys.stdin.read().upper())", stdin=b"abc"),
     ExecStatus.EXITED, 0, "ABC\n", ""),
    ("files", ExecRequest(code="import lib; print(lib.X, open('data/in.txt').read())",
                          files={"lib.py": b"X = 41 + 1", "data/in.txt": b"payload"}),
     ExecStatus.EXITED, 0, "42 payload\n", ""),
    ("argv", ExecRequest(code="import sys; print(sys.argv[1:])", argv=("--n", "3")),
     ExecStatus.EXITED, 0, "['--n', '3']\n", ""),
    ("exit code", ExecRequest(code="raise SystemExit(9)"), ExecStatus.EXITED, 9, "", ""),
    ("signal", ExecRequest(code="import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"),
     ExecStatus.EXITED, -11, "", ""),
    ("stderr", ExecRequest(code="import sys; sys.stderr.write('oops\\n')"), ExecStatus.EXITED, 0, "", "oops\n"),
    ("traceback", ExecRequest(code="1/0"), ExecStatus.EXITED, 1, "", "ZeroDivisionError"),
    ("not root", ExecRequest(code="import os; print(os.getuid(), os.geteuid(), os.getgid())"),
     ExecStatus.EXITED, 0, "65534 65534 65534\n", ""),
    ("no capabilities", ExecRequest(
        code="print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])"),
     ExecStatus.EXITED, 0, "0000000000000000\n", ""),
    ("read-only system", ExecRequest(code="open('/usr/lib/x', 'w')"), ExecStatus.EXITED, 1, "",
     "Read-only file system"),
    ("no nested user namespace", ExecRequest(
        code="import ctypes; print(ctypes.CDLL(None, use_errno=True).unshare(0x10000000))"),
     ExecStatus.EXITED, 0, "-1\n", ""),
    ("cpu limit", ExecRequest(code="while True: pass", limits=Limits(timeout_s=5.0, cpu_s=1.0)),
     ExecStatus.TIMEOUT, -24, "", ""),
]


@pytest.mark.parametrize(("request_", "status", "code", "stdout", "stderr"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exec_cases(sandbox: Sandbox, request_: ExecRequest, status: ExecStatus,
                    code: int | None, stdout: str, stderr: str) -> None:
    result = sandbox.run(request_)
    assert result.status is status, result
    assert result.exit_code == code
    assert result.stdout == stdout
    assert stderr in result.stderr


def test_programs_do_not_see_each_others_files(sandbox: Sandbox) -> None:
    runs = sandbox.run_many([ExecRequest(
        code="import os\nprint(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))\n"
             "open('/tmp/left', 'w').write('x'); open('/dev/shm/left', 'w').write('x')")] * 6)
    assert all(r.status is ExecStatus.EXITED for r in runs)
    assert all("left" not in r.stdout for r in runs), [r.stdout for r in runs]


def test_run_many_keeps_order(sandbox: Sandbox) -> None:
    runs = sandbox.run_many([ExecRequest(code=f"print({i})") for i in range(10)])
    assert [r.stdout for r in runs] == [f"{i}\n" for i in range(10)]

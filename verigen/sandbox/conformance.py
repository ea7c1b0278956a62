"""The conformance suite every sandbox backend must pass.

Each check runs hostile or ordinary programs through the public ``Sandbox`` interface and
looks for evidence on the host side where it can (a listener that must see no connection,
a host dir that must stay empty, host processes that must not survive). Run it with
``run_conformance(sandbox)`` or ``verigen sandbox check``.

For the environment check to have teeth, call ``prepare_conformance_env()`` before the
sandbox is opened (runners started later, after a recycle, are covered either way).
"""

from __future__ import annotations

import os
import resource
import secrets
import select
import socket
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus, Limits

SECRET_ENV = "VERIGEN_CONFORMANCE_SECRET"
_SLACK_S = 2.0  # how late a TIMEOUT may come back
_HOST_RSS_GROWTH_MB = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def prepare_conformance_env() -> str:
    """Puts a random secret in this process's environment (once) and returns it."""
    if SECRET_ENV not in os.environ:
        os.environ[SECRET_ENV] = secrets.token_hex(16)
    return os.environ[SECRET_ENV]


def _run(sandbox: Sandbox, code: str, **limits: float) -> tuple[ExecResult, float]:
    start = time.monotonic()
    lim = Limits(**limits) if limits else Limits(timeout_s=5.0)  # type: ignore[arg-type]
    result = sandbox.run(ExecRequest(code=textwrap.dedent(code), limits=lim))
    return result, time.monotonic() - start


def _show(result: ExecResult) -> str:
    tail = (result.stderr or result.detail).strip().splitlines()[-1:] or [""]
    return f"status={result.status.value} exit={result.exit_code} stderr/detail={tail[0][:120]!r}"


def _still_works(sandbox: Sandbox) -> str | None:
    """None when a plain program still runs correctly, else what went wrong."""
    result, _ = _run(sandbox, "print('still ok')")
    if result.status is ExecStatus.EXITED and result.exit_code == 0 and result.stdout == "still ok\n":
        return None
    return "the next program failed: " + _show(result)


def check_normal(sandbox: Sandbox) -> CheckResult:
    code = "import sys\nprint('hello', sys.argv[1:])\nprint('err', file=sys.stderr)\nsys.exit(3)"
    result = sandbox.run(ExecRequest(code=code, argv=("x",), limits=Limits(timeout_s=5.0)))
    ok = (result.status is ExecStatus.EXITED and result.exit_code == 3
          and result.stdout == "hello ['x']\n" and result.stderr == "err\n")
    return CheckResult(name="normal program", passed=ok, detail=_show(result))


def check_infinite_loop(sandbox: Sandbox) -> CheckResult:
    result, wall = _run(sandbox, "while True:\n    pass", timeout_s=1.0)
    ok = result.status is ExecStatus.TIMEOUT and wall < 1.0 + _SLACK_S
    return CheckResult(name="infinite loop", passed=ok, detail=f"{_show(result)} wall={wall:.2f}s")


def _host_process_count() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def check_fork_bomb(sandbox: Sandbox) -> CheckResult:
    before = _host_process_count()
    code = """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """
    result, wall = _run(sandbox, code, timeout_s=2.0, max_processes=32)
    time.sleep(0.5)
    grown = _host_process_count() - before
    broken = _still_works(sandbox)
    ok = wall < 2.0 + _SLACK_S + 3.0 and grown < 50 and broken is None
    detail = f"{_show(result)} wall={wall:.2f}s host procs +{grown}" + (f"; {broken}" if broken else "")
    return CheckResult(name="fork bomb", passed=ok, detail=detail)


def check_memory_bomb(sandbox: Sandbox) -> CheckResult:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))"
    result, _ = _run(sandbox, code, timeout_s=10.0, memory_mb=256)
    return CheckResult(name="memory bomb", passed=result.status is ExecStatus.MEMORY,
                       detail=_show(result))


def check_output_flood(sandbox: Sandbox) -> CheckResult:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    code = "import sys\nb = b'x' * (1 << 20)\nfor _ in range(2048):\n    sys.stdout.buffer.write(b)"
    cap = 1 << 20
    result, wall = _run(sandbox, code, timeout_s=30.0, max_output_bytes=cap)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10) - rss_before
    ok = (result.status is ExecStatus.OUTPUT_LIMIT and len(result.stdout) <= cap
          and grown < _HOST_RSS_GROWTH_MB)
    return CheckResult(name="2 GB to stdout", passed=ok,
                       detail=f"{_show(result)} kept={len(result.stdout)} host rss +{grown} MiB wall={wall:.2f}s")


def check_disk_filler(sandbox: Sandbox) -> CheckResult:
    code = """
        import os, tempfile
        total = 0
        block = b'x' * (1 << 20)
        for i in range(4096):
            try:
                with open(os.path.join(tempfile.gettempdir(), f'fill{i}'), 'wb') as fh:
                    for _ in range(8):
                        fh.write(block)
                        total += len(block)
            except OSError:
                if i > 2:
                    break
        print(total)
    """
    disk_before = _free_disk_mb()
    result, _ = _run(sandbox, code, timeout_s=20.0, max_file_bytes=16 << 20)
    lost = disk_before - _free_disk_mb()
    written = int(result.stdout.strip() or 0) if result.stdout.strip().isdigit() else -1
    ok = (result.status is not ExecStatus.SANDBOX_ERROR and 0 <= written < (2 << 30)
          and lost < 512 and _still_works(sandbox) is None)
    return CheckResult(name="disk filler", passed=ok,
                       detail=f"{_show(result)} wrote {written >> 20} MiB; host disk -{lost} MiB")


def _free_disk_mb() -> int:
    st = os.statvfs(tempfile.gettempdir())
    return (st.f_bavail * st.f_frsize) >> 20


def _host_procs_with(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if token.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                continue
    return found


def check_detached_grandchild(sandbox: Sandbox) -> CheckResult:
    token = "verigen-conformance-" + secrets.token_hex(8)
    code = f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for fd in (0, 1, 2):
                    os.close(fd)
                os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])
            os._exit(0)
        os.wait()
        print('parent done')
    """
    result, _ = _run(sandbox, code, timeout_s=5.0)
    survivors = _host_procs_with(token)
    time.sleep(1.0)
    survivors += _host_procs_with(token)
    ok = result.status is not ExecStatus.SANDBOX_ERROR and not survivors
    return CheckResult(name="detached grandchild", passed=ok,
                       detail=f"{_show(result)} survivors on host: {sorted(set(survivors))}")


def check_network(sandbox: Sandbox) -> CheckResult:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        code = f"""
            import socket
            try:
                socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
                print('CONNECTED')
            except OSError as exc:
                print('refused', exc)
        """
        result, _ = _run(sandbox, code, timeout_s=5.0)
        reached, _, _ = select.select([listener], [], [], 0.2)
    ok = not reached and "CONNECTED" not in result.stdout
    return CheckResult(name="host TCP listener", passed=ok,
                       detail=f"{_show(result)} host saw a connection: {bool(reached)}")


def check_host_files(sandbox: Sandbox) -> CheckResult:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="verigen-conf-") as host_dir:
        os.chmod(host_dir, 0o777)  # even a world-writable host dir must stay out of reach
        secret_file = Path(host_dir, "secret.txt")
        secret_file.write_text(secret)
        secret_file.chmod(0o644)
        code = f"""
            import os
            try:
                print(open({str(secret_file)!r}).read())
            except OSError as exc:
                print('read failed', type(exc).__name__)
            for target in ({host_dir!r} + '/pwned', '/work/pwned', '/root/pwned', '/etc/pwned'):
                try:
                    with open(target, 'w') as fh:
                        fh.write('x')
                except OSError as exc:
                    print('write failed', type(exc).__name__)
        """
        result, _ = _run(sandbox, code, timeout_s=5.0)
        written = [p for p in (Path(host_dir, "pwned"), Path("/work/pwned"), Path("/root/pwned"),
                               Path("/etc/pwned")) if p.exists()]
    leaked = secret in result.stdout + result.stderr
    ok = result.status is ExecStatus.EXITED and not leaked and not written
    return CheckResult(name="host files", passed=ok,
                       detail=f"{_show(result)} secret leaked: {leaked}; written on host: {written}")


def check_host_env(sandbox: Sandbox) -> CheckResult:
    secret = prepare_conformance_env()
    code = """
        import os
        print(dict(os.environ))
        for name in os.listdir('/proc'):
            if name.isdigit():
                try:
                    print(open(f'/proc/{name}/environ', 'rb').read())
                except OSError:
                    pass
    """
    result, _ = _run(sandbox, code, timeout_s=5.0)
    leaked = secret in result.stdout + result.stderr
    ok = result.status is ExecStatus.EXITED and not leaked
    return CheckResult(name="host environment", passed=ok, detail=f"{_show(result)} leaked: {leaked}")


def check_kill_parent(sandbox: Sandbox) -> CheckResult:
    notes, ok = [], True
    for code in ("import os\nos.kill(os.getppid(), 9)", "import os\nos.kill(1, 9)",
                 "import os\nos.kill(-1, 9)"):
        result, _ = _run(sandbox, code, timeout_s=5.0)
        broken = _still_works(sandbox)
        ok = ok and broken is None
        notes.append(f"{code.splitlines()[-1]} -> {result.status.value}" + (f" ({broken})" if broken else ""))
    return CheckResult(name="kill the parent", passed=ok, detail="; ".join(notes))


def check_process_listing(sandbox: Sandbox) -> CheckResult:
    import subprocess
    import sys

    token = "verigen-conformance-" + secrets.token_hex(8)
    host_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", token])
    try:
        code = f"""
            import os
            pids = [p for p in os.listdir('/proc') if p.isdigit()]
            seen = False
            for p in pids:
                try:
                    seen = seen or {token!r}.encode() in open(f'/proc/{{p}}/cmdline', 'rb').read()
                except OSError:
                    pass
            print(len(pids), seen)
        """
        result, _ = _run(sandbox, code, timeout_s=5.0)
    finally:
        host_proc.kill()
        host_proc.wait()
    count, _, seen = result.stdout.strip().partition(" ")
    ok = result.status is ExecStatus.EXITED and seen == "False" and count.isdigit() and int(count) < 20
    return CheckResult(name="host processes hidden", passed=ok,
                       detail=f"{_show(result)} visible pids={count} saw host process={seen}")


CHECKS: tuple[Callable[[Sandbox], CheckResult], ...] = (
    check_normal,
    check_infinite_loop,
    check_fork_bomb,
    check_memory_bomb,
    check_output_flood,
    check_disk_filler,
    check_detached_grandchild,
    check_network,
    check_host_files,
    check_host_env,
    check_kill_parent,
    check_process_listing,
)


def run_conformance(sandbox: Sandbox) -> list[CheckResult]:
    """Runs every check on ``sandbox``, then the cross-program hygiene checks (one look
    per warm runner); a check that raises is a failed check."""
    from verigen.sandbox.hygiene import hygiene_checks

    prepare_conformance_env()
    runners = int(getattr(sandbox, "workers", 2))
    checks: list[Callable[[Sandbox], object]] = [*CHECKS, *hygiene_checks(runners)]
    results = []
    for check in checks:
        try:
            got = check(sandbox)
            results.append(CheckResult(name=got.name, passed=got.passed, detail=got.detail))  # type: ignore[attr-defined]
        except Exception as exc:
            name = getattr(check, "__name__", "check")
            results.append(CheckResult(name=name, passed=False, detail=f"raised {exc!r}"))
    return results

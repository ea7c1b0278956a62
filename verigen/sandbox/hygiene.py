"""Cross-program checks of the conformance suite: program A leaves something behind on its
warm runner, program B (run on every warm runner after it) looks for it.

A runner may get rid of A's leftovers by cleaning up or by being replaced; either way B
must find nothing, and every B must run normally (a poisoned runner that makes honest
programs fail is a failure too). The programs use only the standard library (ctypes for
the SysV, POSIX message-queue and keyring calls a hostile program would make).
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus, Limits


@dataclass(frozen=True, slots=True, kw_only=True)
class HygieneResult:
    name: str
    passed: bool
    detail: str


_LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
_KEYCTL = (
    "import platform\n"
    "NR = {'x86_64': (248, 250), 'aarch64': (217, 219)}.get(platform.machine())\n"
)

# Each leftover: (what A does, what B prints when it finds A's leftover).
_LEAVE: dict[str, str] = {
    "files in /tmp, /dev/shm and /dev/mqueue": """
        for d in ('/tmp', '/dev/shm'):
            try:
                with open(os.path.join(d, 'left-{token}'), 'w') as fh:
                    fh.write('{token}')
            except OSError:
                pass
        libc.mq_open(b'/left-{token}', os.O_CREAT | os.O_RDWR, 0o600, None)
    """,
    "SysV shared memory (64 MiB touched), message queue, semaphores": """
        libc.shmat.restype = ctypes.c_void_p
        shm = libc.shmget(0x5EC2E7, 64 << 20, 0o1000 | 0o600)
        addr = libc.shmat(shm, None, 0)
        if addr not in (None, ctypes.c_void_p(-1).value):
            ctypes.memset(addr, 7, 64 << 20)
            libc.shmdt(ctypes.c_void_p(addr))
        libc.msgget(0x5EC2E8, 0o1000 | 0o600)
        libc.semget(0x5EC2E9, 4, 0o1000 | 0o600)
    """,
    "a user keyring key": _KEYCTL + textwrap.dedent("""
        if NR:
            key = libc.syscall(NR[0], b'user', b'left-{token}', b'{token}', 12, -4)
            print('key', key)
    """),
    "a process that outlives the program": """
        import sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', 'left-{token}'])
            os._exit(0)
    """,
    "a maze of mode-000 directories over a large file": """
        path = '/tmp/maze-{token}'
        os.mkdir(path)
        dirs = [path]
        for i in range(300):
            dirs.append(os.path.join(dirs[-1], 'd'))
            os.mkdir(dirs[-1])
        with open(os.path.join(dirs[-1], 'fill'), 'wb') as fh:
            for _ in range(12):
                fh.write(b'x' * (1 << 20))
        for d in reversed(dirs):
            os.chmod(d, 0)
    """,
    "lowered priority and rlimits of the runner's own processes": """
        import resource
        for pid in os.listdir('/proc'):
            if pid.isdigit() and int(pid) != os.getpid():
                for res, value in ((resource.RLIMIT_NPROC, 1), (resource.RLIMIT_NOFILE, 8),
                                   (resource.RLIMIT_AS, 32 << 20)):
                    try:
                        resource.prlimit(int(pid), res, (value, value))
                    except (OSError, ValueError):
                        pass
                try:
                    os.setpriority(os.PRIO_PROCESS, int(pid), 19)
                except OSError:
                    pass
    """,
    "a directory chain 3,000 deep": """
        os.chdir('/tmp')
        for i in range(3000):
            os.mkdir('c')
            os.chdir('c')
        open('bottom-{token}', 'w').write('x')
    """,
}

_LOOK = _LIBC + _KEYCTL + textwrap.dedent("""
    import sys
    found = []
    here = os.path.basename(os.getcwd())
    for d in ('/tmp', '/dev/shm', '/dev/mqueue'):
        try:
            names = [n for n in os.listdir(d) if n != here]
        except OSError:
            continue
        if names:
            found.append(f'{d}: {names[:5]}')
    for kind in ('shm', 'msg', 'sem'):
        try:
            rows = open(f'/proc/sysvipc/{kind}').read().splitlines()[1:]
        except OSError:
            continue
        if rows:
            found.append(f'sysv {kind}: {len(rows)}')
    if libc.mq_open(b'/left-{token}', os.O_RDONLY, 0, None) != -1:
        found.append('posix mq')
    if NR:
        size = libc.syscall(NR[1], 11, -4, None, 0)
        if size > 0:
            found.append(f'user keyring: {size} bytes')
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                if b'left-{token}' in open(f'/proc/{pid}/cmdline', 'rb').read():
                    found.append(f'process {pid}')
            except OSError:
                pass
    st = os.statvfs('/tmp')
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    if used > 4 << 20:
        found.append(f'/tmp has {used >> 20} MiB in use')
    with open('probe', 'wb') as fh:  # the work dir still takes writes
        fh.write(b'y' * (1 << 20))
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                if os.getpriority(os.PRIO_PROCESS, int(pid)) != 0:
                    found.append(f'process {pid} has nice {os.getpriority(os.PRIO_PROCESS, int(pid))}')
            except OSError:
                pass
    import subprocess
    if subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True).stdout != b'1\\n':
        found.append('cannot start a process')
    print('FOUND ' + '; '.join(found) if found else 'CLEAN')
""")

_LIMITS = Limits(timeout_s=20.0, memory_mb=512, max_file_bytes=64 << 20)


def _run(sandbox: Sandbox, code: str, token: str) -> ExecResult:
    source = textwrap.dedent(code).replace("{token}", token)
    return sandbox.run(ExecRequest(code=source, limits=_LIMITS))


def _show(result: ExecResult) -> str:
    tail = (result.stderr or result.detail).strip().splitlines()[-1:] or [""]
    return f"status={result.status.value} exit={result.exit_code} {result.stdout.strip()[:160]!r} {tail[0][:120]!r}"


def check_leftover(sandbox: Sandbox, name: str, leave: str, runners: int) -> HygieneResult:
    """A leaves ``leave``; then ``runners`` programs (one per warm runner) look for it."""
    token = secrets.token_hex(6)
    left = _run(sandbox, _LIBC + textwrap.dedent(leave), token)
    notes = [f"A: {left.status.value} exit={left.exit_code}"]
    ok = left.status is ExecStatus.EXITED and left.exit_code == 0  # never a sandbox fault
    for _ in range(runners):
        look = _run(sandbox, _LOOK, token)
        if not (look.status is ExecStatus.EXITED and look.exit_code == 0 and look.stdout.strip() == "CLEAN"):
            ok = False
            notes.append("B: " + _show(look))
    return HygieneResult(name=f"leftover: {name}", passed=ok, detail="; ".join(notes))


def hygiene_checks(runners: int) -> list[Callable[[Sandbox], HygieneResult]]:
    """One check per kind of leftover, each looking on ``runners`` warm runners."""
    def make(name: str, leave: str) -> Callable[[Sandbox], HygieneResult]:
        return lambda sandbox: check_leftover(sandbox, name, leave, runners)

    return [make(name, leave) for name, leave in _LEAVE.items()]

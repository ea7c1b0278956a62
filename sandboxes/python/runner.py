"""verigen sandbox runner: a stdlib-only fork-server, the only code next to untrusted code.

Started inside the sandbox as ``python3 -I -u runner.py``. Talks over its stdin/stdout with
length-prefixed JSON frames (4-byte big-endian length + UTF-8 JSON); see
sandboxes/python/PROTOCOL.md. One request at a time: fork a child, give it a private work
dir, fresh pipes and rlimits, exec ``code`` as ``__main__`` there, enforce the wall clock and
the output cap, kill and reap every descendant, report.

The runner makes itself non-dumpable (so a program of the same uid cannot open
/proc/<runner>/fd/1 and forge responses, nor ptrace it) and a child subreaper (so a
double-forked grandchild is re-parented to it and can be found and killed). When it runs as
PID 1 of a private pid namespace (bwrap --as-pid-1) it is also immune to kill(-1) and to
kill(getppid()) from its children.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import gc
import itertools
import json
import linecache
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback
import types

# Everything the child needs is imported here, once: a program then costs only a fork.
# Not threading, random or tempfile (which imports random): their at-fork hooks run in
# every child and made each fork ~0.35 ms dearer. A program that wants them imports them.

PROTOCOL = 1
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_CHUNK = 1 << 16
_MEMORY_MARK = b"M"
_STARTED_MARK = b"S"  # setup done, the program's code is about to run
_EXIT_GRACE_S = 0.2  # after the main child exits, how long its pipes may stay open


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- framing


def _read_exact(fd: int, n: int) -> bytes | None:
    parts = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _read_frame(fd: int) -> dict | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body.decode("utf-8"))


def _write_frame(fd: int, obj: dict) -> None:
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


# ---------------------------------------------------------------- the child


def _cpu_limit(limits: dict) -> int:
    cpu = limits.get("cpu_s")
    cpu = float(limits["timeout_s"]) + 1.0 if cpu is None else float(cpu)
    return max(1, int(cpu + 0.999))


def _set_limits(limits: dict) -> None:
    mem = int(limits["memory_mb"]) << 20
    # The runner's own processes (bwrap, runner) share the uid; leave them headroom.
    nproc = int(limits["max_processes"]) + 4
    cpu_soft = _cpu_limit(limits)
    for res, soft, hard in (
        (resource.RLIMIT_AS, mem, mem),
        (resource.RLIMIT_DATA, mem, mem),
        (resource.RLIMIT_NPROC, nproc, nproc),
        (resource.RLIMIT_FSIZE, int(limits["max_file_bytes"]), int(limits["max_file_bytes"])),
        # SIGXCPU at the soft limit; the hard one (SIGKILL) is a backstop a second later.
        (resource.RLIMIT_CPU, cpu_soft, cpu_soft + 1),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        resource.setrlimit(res, (soft, hard))


def _make_stdio() -> tuple:
    """The child's sys.stdin/stdout/stderr, made once in the runner (never used there) and
    inherited by every fork: opening three text streams in each child cost ~0.2 ms.

    They are made while fds 0, 1, 2 are what a child's will be (/dev/null, pipes; the
    runner's own are put back after), so they start in the state they would have had if
    the child had opened them itself.
    """
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    null = os.open(os.devnull, os.O_RDONLY)
    r, w = os.pipe()
    os.dup2(null, 0)
    os.dup2(w, 1)
    os.dup2(w, 2)
    stdio = (
        open(0, encoding="utf-8", closefd=False),
        open(1, "w", encoding="utf-8", closefd=False),
        open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1),
    )
    for fd, old in zip((0, 1, 2), saved):
        os.dup2(old, fd)
        os.close(old)
    for fd in (null, r, w):
        os.close(fd)
    return stdio


# Filled by main(); empty when handle() is used on its own (the child then opens its own).
_STDIO: list = []


def _child(req: dict, work: str, fds: tuple[int, int, int, int]) -> None:
    """Runs in the forked child; never returns."""
    stdin_fd, out_w, err_w, mark_w = fds
    code = 1
    try:
        os.setsid()
        os.chdir(work)
        os.dup2(stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(mark_w, 3)
        os.closerange(4, 1 << 16)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        _set_limits(req["limits"])
        sys.stdin, sys.stdout, sys.stderr = _STDIO or _make_stdio()
        sys.argv = ["main.py", *req.get("argv", [])]
        sys.path[:0] = [work]
        code = _exec_program(req["code"])
    except BaseException:
        code = 125
    finally:
        os._exit(code)


def _exec_program(source: str) -> int:
    module = types.ModuleType("__main__")
    module.__file__ = os.path.abspath("main.py")
    sys.modules["__main__"] = module
    # Tracebacks show source lines without writing main.py into the work dir.
    linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
    code = 0
    os.write(3, _STARTED_MARK)
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc)
    except MemoryError:
        os.write(3, _MEMORY_MARK)
        _print_exc()
        code = 1
    except BaseException:
        _print_exc()
        code = 1
    try:  # what a normal interpreter does at exit
        threading = sys.modules.get("threading")  # as Py_Finalize: only if imported
        if threading is not None:
            threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return code


def _warm_up() -> None:
    """Does once in the runner the lazy one-time setup every child would redo: the first
    compile() of a process cost a child ~1 ms (the parser's tables), for print(1) most of
    its run. Our own code only; nothing of it is visible to a program."""
    namespace: dict = {"__name__": "__warm__"}
    source = "def f(x):\n    return [x * i for i in range(3)]\n\nf(2)\n"
    exec(compile(source, "<warm-up>", "exec"), namespace)
    types.ModuleType("__warm__")
    os.path.abspath("main.py")
    try:
        raise ValueError("warm-up")
    except ValueError:
        traceback.format_exc()


def _print_exc() -> None:
    # Skip the runner's own frame: the traceback reads as if python ran main.py.
    etype, exc, tb = sys.exc_info()
    traceback.print_exception(etype, exc, tb.tb_next if tb is not None else None)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    try:
        print(exc.code, file=sys.stderr)
    except BaseException:
        pass
    return 1


# ---------------------------------------------------------------- the runner side


def _children(pid: int) -> list[int] | None:
    """Direct children from /proc/<pid>/task/*/children (cheap), or None where the kernel
    lacks it (CONFIG_PROC_CHILDREN)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found  # gone already
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(c) for c in fh.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended
            return None
        except OSError:
            continue
    return found


def _descendants_by_scan(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


def _descendants(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        kids = _children(todo.pop())
        if kids is None:
            return _descendants_by_scan(root)
        found.extend(kids)
        todo.extend(kids)
    return found


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_everything(pgid: int | None) -> bool:
    """Kill the program's group and every descendant of the runner; True when none is left."""
    me = os.getpid()
    for _ in range(200):
        if pgid is not None:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        if me == 1:  # init of a private pid namespace: everything else is ours
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        for pid in _descendants(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap_all()
        if not _descendants(me):
            return True
        time.sleep(0.002)
    return False


class _Output:
    """Collects stdout+stderr up to a shared byte cap; never buffers beyond it."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.total = 0
        self.parts: dict[int, list[bytes]] = {}
        self.over = False

    def add(self, fd: int, data: bytes) -> None:
        room = self.cap - self.total
        if len(data) > room:
            self.over = True
            data = data[: max(room, 0)]
        self.total += len(data)
        self.parts.setdefault(fd, []).append(data)

    def get(self, fd: int) -> str:
        return base64.b64encode(b"".join(self.parts.get(fd, []))).decode("ascii")


def _pump(
    pid: int, out: _Output, fds: list[int], deadline: float, cpu_used: list[float]
) -> tuple[int | None, bool]:
    """Reads the pipes until the child exits and they close. Returns (wait status or None
    when still running, timed out); the child's CPU seconds go to ``cpu_used[0]``."""
    pidfd = os.pidfd_open(pid)
    open_fds = list(fds)
    status: int | None = None
    grace_end: float | None = None
    try:
        while not out.over:
            now = time.monotonic()
            end = deadline if grace_end is None else min(deadline, grace_end)
            if now >= end or (status is not None and not open_fds):
                break
            waiting = open_fds + ([pidfd] if status is None else [])
            ready, _, _ = select.select(waiting, [], [], end - now)
            for fd in ready:
                if fd == pidfd:
                    _, status, usage = os.wait4(pid, 0)
                    cpu_used[0] = usage.ru_utime + usage.ru_stime
                    grace_end = time.monotonic() + _EXIT_GRACE_S
                    continue
                data = os.read(fd, _CHUNK)
                if not data:
                    open_fds.remove(fd)
                else:
                    out.add(fd, data)
    finally:
        os.close(pidfd)
    timed_out = status is None and not out.over and time.monotonic() >= deadline
    return status, timed_out


def _read_marks(mark_r: int) -> bytes:
    # Read once the child is dead, not watched while it runs: one wakeup fewer per program.
    os.set_blocking(mark_r, False)
    try:
        return os.read(mark_r, 64)
    except OSError:
        return b""


def _classify(
    status: int | None, timed_out: bool, marks: bytes, out: _Output, cpu_s: float, cpu_limit: float
) -> tuple[str, int | None, str]:
    if out.over:
        return "output_limit", None, f"output over {out.cap} bytes"
    if timed_out:
        return "timeout", None, "wall-clock limit"
    if status is None:
        return "sandbox_error", None, "child state unknown"
    code = os.waitstatus_to_exitcode(status)
    if _STARTED_MARK not in marks:
        return "sandbox_error", None, f"the child failed before the program started (exit {code})"
    # SIGXCPU comes from the soft CPU limit; SIGKILL past it from the hard one.
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and cpu_s >= cpu_limit):
        return "timeout", code, "CPU limit"
    if _MEMORY_MARK in marks:
        return "memory", code, "MemoryError"
    return "exited", code, ""


def _safe_path(work: str, rel: str) -> str:
    path = os.path.normpath(os.path.join(work, rel))
    if os.path.isabs(rel) or not path.startswith(work + os.sep):
        raise ValueError(f"file path {rel!r} leaves the work dir")
    return path


_WORK_IDS = itertools.count()


def _make_work_dir() -> str:
    """A new, empty, private dir under TMPDIR (exclusive mkdir: never one a program made)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, f"run-{os.getpid()}-{next(_WORK_IDS)}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


def _stdin_file(data: bytes) -> int:
    # A file, not a pipe: the runner never blocks feeding a program that does not read.
    try:
        fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    except (OSError, AttributeError):  # no memfd: an unlinked file in the work dir
        path = os.path.join(_make_work_dir(), "stdin")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _prepare(req: dict) -> tuple[str, int]:
    work = _make_work_dir()
    for rel, b64 in (req.get("files") or {}).items():
        path = _safe_path(work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(b64))
    data = base64.b64decode(req.get("stdin_b64", ""))
    if not data:
        return work, os.open(os.devnull, os.O_RDONLY)
    return work, _stdin_file(data)


def handle(req: dict) -> dict:
    """Runs one request and returns its response (without the id)."""
    start = time.monotonic()
    limits = req["limits"]
    work, stdin_fd = _prepare(req)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    mark_r, mark_w = os.pipe()
    out = _Output(int(limits["max_output_bytes"]))
    pid = os.fork()
    if pid == 0:
        _child(req, work, (stdin_fd, out_w, err_w, mark_w))
    for fd in (stdin_fd, out_w, err_w, mark_w):
        os.close(fd)
    cpu_used = [0.0]
    try:
        status, timed_out = _pump(
            pid, out, [out_r, err_r], start + float(limits["timeout_s"]), cpu_used
        )
    finally:
        clean = _kill_everything(pid)
        marks = _read_marks(mark_r)
        for fd in (out_r, err_r, mark_r):
            os.close(fd)
        shutil.rmtree(work, onerror=_force_remove)
    state, code, detail = _classify(status, timed_out, marks, out, cpu_used[0], _cpu_limit(limits))
    return {
        "status": state,
        "exit_code": code,
        "stdout_b64": out.get(out_r),
        "stderr_b64": out.get(err_r),
        "wall_s": time.monotonic() - start,
        "detail": detail,
        "clean": clean,
    }


def _force_remove(func: object, path: str, exc: object) -> None:
    # The program may have made its files read-only; the runner owns them all the same.
    try:
        os.chmod(os.path.dirname(path), 0o700)
        os.chmod(path, 0o700)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _wipe(dirs: list[str]) -> None:
    """Empties the scratch dirs this runner owns alone, so no program sees what an earlier
    one left there (or finds the space used up)."""
    for base in dirs:
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, onerror=_force_remove)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _parse_args(argv: list[str]) -> list[str]:
    """``--wipe DIR`` (repeatable): dirs emptied after every request."""
    wipe = []
    for flag, value in zip(argv[::2], argv[1::2]):
        if flag != "--wipe":
            raise SystemExit(f"runner: unknown option {flag!r}")
        wipe.append(value)
    return wipe


def main() -> int:
    wipe = _parse_args(sys.argv[1:])
    _prctl(_PR_SET_DUMPABLE, 0)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _STDIO[:] = _make_stdio()
    _warm_up()
    # Objects that exist now are never collected: the forked child's GC does not touch
    # (and copy-on-write) the runner's pages.
    gc.freeze()
    rfd, wfd = 0, 1
    _write_frame(wfd, {"ready": True, "protocol": PROTOCOL, "batch": True,
                       "python": sys.version.split()[0]})
    while True:
        req = _read_frame(rfd)
        if req is None:
            return 0
        if req.get("op") == "ping":
            _write_frame(wfd, {"pong": True})
        elif req.get("op") == "batch":
            # One response frame per request, in order; stop after a result the host will
            # throw this runner away for (it kills us; the rest it runs elsewhere).
            for item in req.get("requests") or []:
                resp = _serve(item, wipe)
                _write_frame(wfd, resp)
                if resp["status"] in _RECYCLE_AFTER or resp["clean"] is not True:
                    break
        else:
            _write_frame(wfd, _serve(req, wipe))


# After these the host recycles the runner (see _runner_client._RECYCLE_AFTER).
_RECYCLE_AFTER = frozenset({"timeout", "memory", "output_limit"})


def _serve(req: dict, wipe: list[str]) -> dict:
    try:
        resp = handle(req)
    except Exception as exc:
        resp = {"status": "sandbox_error", "exit_code": None, "stdout_b64": "",
                "stderr_b64": "", "wall_s": 0.0, "detail": f"runner: {exc!r}",
                "clean": _kill_everything(None)}
    _wipe(wipe)
    resp["id"] = req.get("id")
    return resp


if __name__ == "__main__":
    sys.exit(main())

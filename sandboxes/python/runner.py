"""verigen sandbox runner: a stdlib-only fork-server, the only code next to untrusted code.

Started inside the sandbox as ``python3 -I -u runner.py [--isolated] [--wipe DIR]...``. Talks over its
stdin/stdout with length-prefixed JSON frames (4-byte big-endian length + UTF-8 JSON); see
sandboxes/python/PROTOCOL.md (protocol 2).

Two processes of ours live in the sandbox:

- the runner (R) reads requests, prepares each program's fds and work dir, enforces the
  wall clock and the output cap, kills and reaps every process of the program, cleans up
  and reports;
- the zygote (Z), forked by R before the first request is read, forks every program. Z
  never sees request data: a program's code, argv and stdin reach the forked child through
  file descriptors (memfds) that only that child reads. So no program inherits, in memory,
  anything of another request (earlier programs, test jobs), nor of its own request but
  what it is given.

A request may ask for a *peer*: a second program, forked from Z too, connected to the main
program by a socket (fd 4 in the main program, fd 3 in the peer). verigen's function-test
harness uses it to run candidate code in a process of its own, apart from the trusted side.

A request may also ask for its (trusted, registered) main program to run *resident*: one
process of that program per runner, forked from Z once and kept between requests, that is
sent each request's fds as a job (``_Resident``); the request's peer is still forked fresh.

R is non-dumpable, so every process forked from it or from Z is too: a program of the same
uid can neither ptrace another process nor open its ``/proc/<pid>/fd|mem``. R is a child
subreaper (a double-forked grandchild is re-parented to R and found) and, as PID 1 of a
private pid namespace, cannot be killed by a program. After every program R SIGKILLs what
is left of it (``_stop_all``: busy children must not starve R of the CPU it needs to answer
in time), sends the result, then cleans up (every process killed, work dirs removed, scratch dirs emptied by a
walk that neither recurses nor stops at permissions, SysV IPC objects removed, keyrings
cleared, the zygote checked) and sends a second frame saying whether it could prove itself
clean; a host recycles a runner that could not.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import fcntl
import gc
import itertools
import json
import linecache
import os
import platform
import resource
import secrets
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback
import types

# Everything a child needs is imported here, once: a program then costs only a fork.
# Not threading, random or tempfile (which imports random): their at-fork hooks run in
# every child. A program that wants them imports them.

PROTOCOL = 2
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_CHUNK = 1 << 16
_MEMORY_MARK = b"M"
_STARTED_MARK = b"S"  # setup done, the program's code is about to run
_EXIT_GRACE_S = 0.2  # after the main child exits, how long its pipes may stay open
_ZYGOTE_TIMEOUT_S = 5.0
_HIGH_FD = 200  # a child moves its fds above this before it puts them at 0..k-1
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SCRATCH_SLACK_BYTES = 64 << 10  # what an emptied tmpfs may still count as used
_LIBC = ctypes.CDLL(None, use_errno=True)
_IPC_RMID = 0


def _prctl(option: int, value: int) -> None:
    try:
        _LIBC.prctl(option, value, 0, 0, 0)
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
    # Our own processes (bwrap, runner, zygote, a peer) share the uid: leave headroom.
    nproc = int(limits["max_processes"]) + 6
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
    """A child's sys.stdin/stdout/stderr, made once (never used by R or Z) and inherited by
    every fork: opening three text streams in each child cost ~0.2 ms.

    They are made while fds 0, 1, 2 are what a child's will be (/dev/null, pipes; ours are
    put back after), so they start in the state they would have had if the child had
    opened them itself.
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


# Filled by main(); empty when the runner's functions are used on their own.
_STDIO: list = []
# Trusted programs the host registered by name ("load" op). The zygote runs each one's
# module body once (its imports and definitions; ``__name__`` is not "__main__"), so a
# child only calls the module's ``main()``: name -> the module.
_PROGRAMS: dict[str, types.ModuleType] = {}

_KEYCTL_NR = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "i686": 288, "s390x": 280,
              "ppc64le": 311, "armv7l": 311}.get(platform.machine())
_KEYCTL_JOIN_SESSION_KEYRING, _KEYCTL_CLEAR, _KEYCTL_READ = 1, 7, 11
_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING = -4, -5


def _keyctl(*args: int) -> int:
    """The raw keyctl(2) system call; -1 where it is unknown here or refused."""
    if _KEYCTL_NR is None:
        return -1
    return int(_LIBC.syscall(ctypes.c_long(_KEYCTL_NR), *[ctypes.c_long(a) for a in args]))


# A program runs under a seccomp filter that keeps it to itself where the uid it shares
# with the runner, the zygote and a trusted peer would otherwise let it reach them:
# prlimit(2) on another process (lower the runner's RLIMIT_CPU and it dies: a forged
# infrastructure fault), setpriority / ioprio_set on another process or the whole uid,
# sched_set* on another process. Each is allowed on the caller itself (pid/who 0) and
# refused with EPERM otherwise. (ptrace and /proc/<pid>/mem are closed by non-dumpability.)
# syscall -> (argument, value it must have) pairs: every pair must hold.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7, "riscv64": 0xC00000F3}.get(platform.machine())
_GUARDED = {
    "x86_64": {302: ((0, 0),), 141: ((0, 0), (1, 0)), 251: ((0, 1), (1, 0)), 142: ((0, 0),),
               144: ((0, 0),), 203: ((0, 0),), 314: ((0, 0),)},
    "generic": {261: ((0, 0),), 140: ((0, 0), (1, 0)), 30: ((0, 1), (1, 0)), 118: ((0, 0),),
                119: ((0, 0),), 122: ((0, 0),), 274: ((0, 0),)},
}.get("x86_64" if platform.machine() == "x86_64" else "generic")


def _seccomp_filter() -> bytes:
    """The BPF program (struct sock_filter[]) of the rule above."""
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    body: list[tuple[int, int, int, int]] = [(ld, 0, 0, 0)]  # A = syscall number
    for nr, conds in _GUARDED.items():
        checks: list[tuple[int, int, int, int]] = []
        for arg, value in conds:  # 64-bit argument: low word == value, high word == 0
            checks += [(ld, 0, 0, 16 + 8 * arg), (jeq, 0, 0, value), (ld, 0, 0, 20 + 8 * arg), (jeq, 0, 0, 0)]
        block = len(checks) + 2  # the checks, then allow, then deny
        body.append((jeq, 0, block, nr))  # not this syscall: skip its block
        for i, (code, _, _, k) in enumerate(checks):
            if code == jeq:  # on a mismatch jump to this block's deny
                body.append((jeq, 0, len(checks) - i, k))
            else:
                body.append((code, 0, 0, k))
        body += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
        body.append((ld, 0, 0, 0))  # A = syscall number again for the next block
    head = [(ld, 0, 0, 4), (jeq, 1, 0, _AUDIT_ARCH or 0), (ret, 0, 0, deny),  # another ABI: refuse
            (ld, 0, 0, 0), (jge, 0, 1, 0x40000000), (ret, 0, 0, deny)]  # x32 syscalls: refuse
    prog = head + body + [(ret, 0, 0, allow)]
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


_FILTER = _seccomp_filter() if _AUDIT_ARCH is not None and _GUARDED is not None else b""


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


# Built once, here (in the zygote, before any fork): a child only makes the two prctl calls.
# (Defining the ctypes structure in each child cost it ~1 ms of copy-on-write faults.)
_FILTER_BUF = ctypes.create_string_buffer(_FILTER, len(_FILTER)) if _FILTER else None
_FILTER_PROG = (_SockFprog(len(_FILTER) // 8, ctypes.cast(_FILTER_BUF, ctypes.c_void_p))
                if _FILTER_BUF is not None else None)
_FILTER_PROG_REF = ctypes.byref(_FILTER_PROG) if _FILTER_PROG is not None else None


def _install_filter() -> None:
    """PR_SET_NO_NEW_PRIVS, then the filter (where this architecture has a table)."""
    if _FILTER_PROG_REF is None:
        return
    if _LIBC.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    if _LIBC.prctl(22, 2, _FILTER_PROG_REF, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "seccomp filter refused")


def _oom_first() -> None:
    """Under memory pressure the kernel's OOM killer should pick a program before the
    runner (backends without a memory cgroup: a fork bomb of memory hogs)."""
    try:  # os-level calls: a file object would cost the child more copy-on-write faults
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"1000")
        finally:
            os.close(fd)
    except OSError:
        pass


def _child(spec: dict, fds: list[int]) -> None:
    """Runs in a child forked by the zygote; never returns. ``fds``: the payload memfd,
    then the fds the program gets as 0, 1, 2, ... ``spec`` holds no request data: the
    code, argv and work dir come from the payload, which only this child reads."""
    code = 125
    try:
        os.setsid()
        payload = json.loads(os.pread(fds[0], os.fstat(fds[0]).st_size, 0).decode("utf-8"))
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, _HIGH_FD) for fd in fds[1:]]
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(len(high), 1 << 16)  # the zygote's socket, the payload, every copy
        os.chdir(payload["cwd"])
        _keyctl(_KEYCTL_JOIN_SESSION_KEYRING, 0)  # a fresh anonymous session keyring
        _oom_first()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        _set_limits(spec["limits"])
        _install_filter()
        sys.stdin, sys.stdout, sys.stderr = _STDIO or _make_stdio()
        sys.argv = ["main.py", *payload.get("argv", [])]
        sys.path[:0] = [payload["cwd"]]
        program = payload.get("program")
        code = _exec_program(payload.get("code", ""), None if program is None else _PROGRAMS[program],
                             spec.get("mark"))
    except BaseException:
        code = 125
    finally:
        os._exit(code)


def _exec_program(source: str, program: types.ModuleType | None, mark_fd: int | None) -> int:
    """Runs ``source`` as ``__main__`` (or a registered program's ``main()``) the way the
    interpreter would run a script, and returns its exit code."""
    if program is None:
        module = types.ModuleType("__main__")
        module.__file__ = os.path.abspath("main.py")
        # Tracebacks show source lines without writing main.py into the work dir.
        linecache.cache[module.__file__] = (len(source), None, source.splitlines(True), module.__file__)
    else:
        module = program
    sys.modules["__main__"] = module
    code = 0
    if mark_fd is not None:
        os.write(mark_fd, _STARTED_MARK)
    try:
        if program is None:
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        else:
            program.main()
    except SystemExit as exc:
        code = _exit_code(exc)
    except MemoryError:
        if mark_fd is not None:
            os.write(mark_fd, _MEMORY_MARK)
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
    """Does once the lazy one-time setup every child would redo: the first compile() of a
    process cost a child ~1 ms (the parser's tables). Our own code only."""
    namespace: dict = {"__name__": "__warm__"}
    source = "def f(x):\n    return [x * i for i in range(3)]\n\nf(2)\n"
    exec(compile(source, "<warm-up>", "exec"), namespace)
    types.ModuleType("__warm__")
    os.path.abspath("main.py")
    json.loads(json.dumps({"a": [1, 2.5, "x"]}))
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


# ---------------------------------------------------------------- the zygote


def _zygote_main(sock: socket.socket) -> None:
    """Forks programs on R's word; never returns. Holds no request data: R sends it only
    fds, limits and program names, and the child reads its payload itself."""
    code = 0
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # the host channel is R's alone
            os.dup2(null, fd)
        os.close(null)
        children: dict[int, int] = {}  # pidfd -> pid
        while True:
            ready, _, _ = select.select([sock, *children], [], [])
            for fd in ready:
                if fd in children:
                    pid = children.pop(fd)
                    _, status, usage = os.wait4(pid, 0)
                    os.close(fd)
                    _zsend(sock, {"exit": pid, "status": status,
                                  "cpu": usage.ru_utime + usage.ru_stime})
                elif not _zygote_serve(sock, children):
                    return
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _zsend(sock: socket.socket, obj: dict, fds: list[int] = ()) -> None:  # type: ignore[assignment]
    socket.send_fds(sock, [json.dumps(obj).encode("utf-8")], list(fds))


def _zygote_serve(sock: socket.socket, children: dict[int, int]) -> bool:
    """One message from R; False when R has gone."""
    data, fds, _, _ = socket.recv_fds(sock, 1 << 22, 16)
    if not data:
        return False
    msg = json.loads(data.decode("utf-8"))
    op, key = msg.get("op"), msg.get("re")
    if op == "spawn":  # one or more children (a program and its peer), in one message
        sizes, marks = msg["sizes"], msg["marks"]
        pids: list[int] = []
        pidfds: list[int] = []
        start = 0
        try:
            for size, mark in zip(sizes, marks):
                group = fds[start : start + size]
                start += size
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    _child({"limits": msg["limits"], "mark": mark}, group)
                pids.append(pid)
                pidfds.append(os.pidfd_open(pid))
                children[pidfds[-1]] = pid
        except OSError as exc:
            for pid in pids:
                _kill_quietly(pid)
            _zsend(sock, {"re": key, "error": f"fork failed: {exc}"})
        else:
            _zsend(sock, {"re": key, "pids": pids}, pidfds)
        finally:
            for fd in fds:
                os.close(fd)
    elif op == "load":
        name, source = str(msg["name"]), str(msg["code"])
        try:
            _PROGRAMS[name] = _load_program(name, source)
            gc.freeze()  # what the program made is never collected: a child does not touch it
            _zsend(sock, {"re": key, "ok": True})
        except BaseException as exc:  # reported to the host
            _zsend(sock, {"re": key, "error": f"cannot load {name}: {exc!r}"})
    else:
        _zsend(sock, {"re": key, "pong": True})
    return True


def _load_program(name: str, source: str) -> types.ModuleType:
    """A trusted program as a module: its body run once, here in the zygote."""
    path = f"/opt/verigen/{name}.py"
    module = types.ModuleType(f"verigen_program_{name}")
    module.__file__ = path
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
    if not callable(module.__dict__.get("main")):
        raise ValueError(f"program {name!r} defines no main()")
    return module


class _Zygote:
    """R's end: spawn / load / ping, and the exit reports of what Z forked."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            _zygote_main(theirs)
        theirs.close()
        self.pid = pid
        self.sock = ours
        self.alive = True
        self.exits: dict[int, tuple[int, float]] = {}  # pid -> (wait status, CPU seconds)
        self._keys = itertools.count(1)

    def _recv(self, timeout: float) -> tuple[dict, list[int]] | None:
        if not self.alive:
            raise EOFError("the zygote is gone")
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
        except OSError as exc:
            self.alive = False
            raise EOFError(f"the zygote's socket broke: {exc}") from exc
        if not data:
            self.alive = False
            raise EOFError("the zygote is gone")
        msg = json.loads(data.decode("utf-8"))
        if "exit" in msg:
            self.exits[int(msg["exit"])] = (int(msg["status"]), float(msg["cpu"]))
        return msg, fds

    def _ask(self, obj: dict, fds: list[int] = ()) -> tuple[dict, list[int]]:  # type: ignore[assignment]
        key = next(self._keys)
        try:
            _zsend(self.sock, {**obj, "re": key}, fds)
        except OSError as exc:
            self.alive = False
            raise EOFError(f"the zygote's socket broke: {exc}") from exc
        deadline = time.monotonic() + _ZYGOTE_TIMEOUT_S
        while True:
            got = self._recv(deadline - time.monotonic())
            if got is None:
                self.alive = False
                raise EOFError("the zygote did not answer in time")
            msg, got_fds = got
            if msg.get("re") == key:
                return msg, got_fds
            for fd in got_fds:
                os.close(fd)

    def spawn(self, limits: dict, groups: list[tuple[list[int], int | None]]) -> list[tuple[int, int]]:
        """Forks one child per group (fds: payload, then its 0, 1, 2, ...; the fd number of
        its start/memory marks, or None), all in one message; their (pid, pidfd)."""
        fds = [fd for group, _ in groups for fd in group]
        msg, got = self._ask({"op": "spawn", "limits": limits, "sizes": [len(g) for g, _ in groups],
                              "marks": [m for _, m in groups]}, fds)
        pids = msg.get("pids")
        if "error" in msg or not isinstance(pids, list) or len(got) != len(groups) or len(pids) != len(got):
            for fd in got:
                os.close(fd)
            raise OSError(str(msg.get("error", "the zygote sent no pidfds")))
        return list(zip((int(p) for p in pids), got))

    def load(self, name: str, code: str) -> str | None:
        """Registers a trusted program; None when it compiled, else why not."""
        msg, _ = self._ask({"op": "load", "name": name, "code": code})
        return None if msg.get("ok") is True else str(msg.get("error", "load failed"))

    def ping(self) -> bool:
        try:
            return self._ask({"op": "ping"})[0].get("pong") is True
        except EOFError:
            return False

    def drain(self) -> None:
        """Takes in every exit report that has already arrived."""
        while self.alive:
            try:
                if self._recv(0.0) is None:
                    return
            except EOFError:
                return

    def wait_exit(self, pid: int, timeout: float) -> tuple[int, float] | None:
        """The wait status and CPU time of child ``pid``; None if it cannot be had."""
        deadline = time.monotonic() + timeout
        while pid not in self.exits:
            try:
                if self._recv(deadline - time.monotonic()) is None and time.monotonic() >= deadline:
                    return None
            except EOFError:
                return _reap_orphan(pid)
        return self.exits[pid]


def _reap_orphan(pid: int) -> tuple[int, float] | None:
    """With the zygote dead, its children are re-parented to us (subreaper): reap one."""
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return None
    return status, usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- processes


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
                data = fh.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for pid in parents.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


def _processes() -> list[int]:
    """Every process but us: all of the pid namespace when we are its init, else our
    descendants (the zygote and what it forked included)."""
    me = os.getpid()
    if me == 1:
        return [int(n) for n in os.listdir("/proc") if n.isdigit() and n != "1"]
    found, todo = [], [me]
    while todo:
        kids = _children(todo.pop())
        if kids is None:
            return _descendants_by_scan(me)
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


def _stop_all(zygote: _Zygote) -> None:
    """SIGKILL to every process but us, the zygote and the resident side, before the
    response is built: a program's children (60 busy loops, memory hogs) must not starve
    the runner of the CPU or memory it needs to answer in time, or the host's deadline
    passes and the program's own failure reads as a sandbox error. No waiting: the reaping
    is ``_kill_all``'s, after the response. A pass repeats while it finds processes forked
    since the last one (a process that has been sent SIGKILL cannot fork)."""
    spared = {zygote.pid, _SLOT.resident.pid if _SLOT.resident is not None else None}
    sent: set[int] = set()
    for _ in range(8):
        victims = [pid for pid in _processes() if pid not in spared and pid not in sent]
        if not victims:
            return
        for pid in victims:
            _kill_quietly(pid)
        sent.update(victims)


def _kill_all(zygote: _Zygote, spawned: list[int], keep: int | None = None) -> bool:
    """Kills every process but us, the zygote and ``keep`` (a resident trusted side that
    stays); True when none is left and the zygote has reaped (and reported) everything it
    forked for this request."""
    for _ in range(300):
        victims = [pid for pid in _processes() if pid != zygote.pid and pid != keep]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap_all()
        zygote.drain()
        if not victims and all(pid in zygote.exits for pid in spawned):
            for pid in spawned:
                del zygote.exits[pid]
            return True
        time.sleep(0.002)
    return False


# ---------------------------------------------------------------- cleanup


def _listdir_fd(fd: int) -> list[str]:
    return os.listdir(fd)


def _is_dir(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


_WIPE_TAG = secrets.token_hex(6)
_WIPE_IDS = itertools.count()


def _empty_dir(root: str) -> bool:
    """Removes everything below ``root`` (not ``root``): no recursion, two open fds at a
    time, so neither depth nor permissions (mode-000 dirs) can stop it. Every directory
    found is chmod'ed, then moved up to ``root`` and emptied there. Runs after every
    process of the program is dead, so nothing changes under the walk."""
    try:
        rfd = os.open(root, _DIR_FLAGS)
    except OSError:
        return False
    try:
        queue = []
        for name in _listdir_fd(rfd):
            if _is_dir(name, rfd):
                queue.append(name)
            else:
                os.unlink(name, dir_fd=rfd)
        while queue:
            name = queue.pop()
            os.chmod(name, 0o700, dir_fd=rfd)
            dfd = os.open(name, _DIR_FLAGS, dir_fd=rfd)
            try:
                for entry in _listdir_fd(dfd):
                    if _is_dir(entry, dfd):
                        os.chmod(entry, 0o700, dir_fd=dfd)
                        queue.append(_move_up(entry, dfd, rfd))
                    else:
                        os.unlink(entry, dir_fd=dfd)
            finally:
                os.close(dfd)
            os.rmdir(name, dir_fd=rfd)
        return not _listdir_fd(rfd)
    except OSError:
        return False
    finally:
        os.close(rfd)


def _move_up(name: str, dir_fd: int, root_fd: int) -> str:
    while True:
        new = f".verigen-wipe-{_WIPE_TAG}-{next(_WIPE_IDS)}"
        try:
            os.stat(new, dir_fd=root_fd, follow_symlinks=False)
            continue  # taken (a program could have guessed the tag: never overwrite)
        except FileNotFoundError:
            pass
        os.rename(name, new, src_dir_fd=dir_fd, dst_dir_fd=root_fd)
        return new


def _remove_tree(path: str) -> bool:
    if not os.path.lexists(path):
        return True
    if not _empty_dir(path):
        return False
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True


def _scratch_free(path: str) -> bool:
    """An emptied scratch dir: nothing listed and (nearly) no space used."""
    try:
        if os.listdir(path):
            return False
        st = os.statvfs(path)
    except OSError:
        return False
    return (st.f_blocks - st.f_bfree) * st.f_frsize <= _SCRATCH_SLACK_BYTES


def _sysv_ids(kind: str) -> list[int] | None:
    try:
        with open(f"/proc/sysvipc/{kind}", "rb") as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return None
    return [int(line.split()[1]) for line in lines if line.strip()]


def _ipc_clean() -> bool:
    """Removes every SysV shared-memory segment, message queue and semaphore set of our
    IPC namespace (a program could leave one for the next, or pin memory in it)."""
    removers = {
        "shm": lambda i: _LIBC.shmctl(i, _IPC_RMID, None),
        "msg": lambda i: _LIBC.msgctl(i, _IPC_RMID, None),
        "sem": lambda i: _LIBC.semctl(i, 0, _IPC_RMID),
    }
    ok = True
    for kind, remove in removers.items():
        ids = _sysv_ids(kind)
        if not ids:
            continue
        for ident in ids:
            remove(ident)
        ok = ok and not _sysv_ids(kind)
    return ok


def _keys_clean() -> bool:
    """Clears the user keyrings a next program would share (each program also gets its own
    session keyring). Where keyctl is refused (docker's seccomp profile) there is nothing
    a program could have left."""
    ok = True
    for ring in (_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING):
        if _keyctl(_KEYCTL_CLEAR, ring) == -1:
            continue
        ok = ok and _keyctl(_KEYCTL_READ, ring, 0, 0) == 0
    return ok


# ---------------------------------------------------------------- one request


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


class _Program:
    """The live processes of one request, as R sees them."""

    def __init__(self, zygote: _Zygote, pid: int, pidfd: int, peer: int | None) -> None:
        self.zygote, self.pid, self.pidfd, self.peer = zygote, pid, pidfd, peer
        self.spawned = [pid] if peer is None else [pid, peer]

    def pump(self, out: _Output, fds: list[int], deadline: float) -> tuple[tuple[int, float] | None, bool]:
        """Reads the pipes until the main program exits and they close. Returns (its wait
        status and CPU seconds, or None when it still runs; timed out)."""
        open_fds = list(fds)
        exited: tuple[int, float] | None = None
        lost = False
        grace_end: float | None = None
        while not out.over:
            now = time.monotonic()
            end = deadline if grace_end is None else min(deadline, grace_end)
            if now >= end or ((exited is not None or lost) and not open_fds):
                break
            waiting = open_fds + ([self.pidfd] if grace_end is None else [])
            ready, _, _ = select.select(waiting, [], [], end - now)
            for fd in ready:
                if fd == self.pidfd:
                    if self.peer is not None:  # the peer lives only as long as the program
                        _kill_quietly(self.peer)
                    exited = self.zygote.wait_exit(self.pid, 2.0)
                    lost = exited is None
                    grace_end = time.monotonic() + _EXIT_GRACE_S
                    continue
                data = os.read(fd, _CHUNK)
                if not data:
                    open_fds.remove(fd)
                else:
                    out.add(fd, data)
        timed_out = exited is None and not lost and not out.over and time.monotonic() >= deadline
        return exited, timed_out


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _read_marks(mark_r: int) -> bytes:
    os.set_blocking(mark_r, False)
    try:
        return os.read(mark_r, 64)
    except OSError:
        return b""


def _classify(exited: tuple[int, float] | None, timed_out: bool, marks: bytes, out: _Output,
              cpu_limit: float) -> tuple[str, int | None, str]:
    if out.over:
        return "output_limit", None, f"output over {out.cap} bytes"
    if timed_out:
        return "timeout", None, "wall-clock limit"
    if _STARTED_MARK not in marks:
        return "sandbox_error", None, "the child failed before the program started"
    if exited is None:
        # Only a program that killed our zygote gets here: its own doing, not our fault.
        return "exited", None, "exit status lost (the program killed the runner's zygote)"
    status, cpu_s = exited
    code = os.waitstatus_to_exitcode(status)
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


def _memfd(data: bytes, name: str) -> int:
    """A file holding ``data``, readable from offset 0 (a file, not a pipe: the writer
    never blocks on a program that does not read)."""
    try:
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
    except (OSError, AttributeError):  # no memfd: an unlinked file in a fresh dir
        path = os.path.join(_make_work_dir(), name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.unlink(path)
        os.rmdir(os.path.dirname(path))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _payload(req: dict, cwd: str) -> int:
    body = {"cwd": cwd, "argv": [str(a) for a in req.get("argv") or []]}
    if req.get("program") is not None:
        body["program"] = str(req["program"])
    else:
        body["code"] = str(req.get("code", ""))
    return _memfd(json.dumps(body).encode("utf-8"), "payload")


class _Request:
    """One request's fds and dirs, made by R; ``close_child_side`` after the spawn."""

    def __init__(self) -> None:
        self.dirs: list[str] = []
        self.child_fds: list[int] = []
        self.fds: list[int] = []  # everything to close at the end
        self.peer_fds: list[int] | None = None

    def prepare(self, req: dict) -> None:
        """Work dir, files, stdin, pipes, payloads (and a socket pair for a peer)."""
        work = self.new_dir()
        for rel, b64 in (req.get("files") or {}).items():
            path = _safe_path(work, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(base64.b64decode(b64))
        data = base64.b64decode(req.get("stdin_b64", ""))
        stdin_fd = self.child(_memfd(data, "stdin") if data else os.open(os.devnull, os.O_RDONLY))
        self.out_r, out_w = self.pipe()
        self.err_r, self.err_w = self.pipe()
        self.mark_r, mark_w = self.pipe()
        self.main_fds = [self.child(_payload(req, work)), stdin_fd, out_w, self.err_w, mark_w]
        peer = req.get("peer")
        if peer is not None:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            main_end, peer_end = self.child(a.detach()), self.child(b.detach())
            self.main_fds.append(main_end)
            null = self.child(os.open(os.devnull, os.O_RDONLY))
            # The peer shares the work dir: of the same uid, it could read it anyway.
            payload = self.child(_payload(peer, work))
            self.peer_fds = [payload, null, self.err_w, self.err_w, peer_end]

    def new_dir(self) -> str:
        path = _make_work_dir()
        self.dirs.append(path)
        return path

    def child(self, fd: int) -> int:
        self.child_fds.append(fd)
        return fd

    def pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        self.fds.append(r)
        self.child_fds.append(w)
        return r, w

    def close_child_side(self) -> None:
        for fd in self.child_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.child_fds = []

    def close(self) -> None:
        self.close_child_side()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


# ---------------------------------------------------------------- the resident trusted side

_LOADED: set[str] = set()  # trusted programs the zygote holds (the "load" op succeeded)
_RESIDENT_CPU_S = 1e9  # a resident side's own CPU limit: the wall clock of each job bounds it


class _Resident:
    """The trusted side of a registered program kept between requests (a request with
    ``"resident": true``, a peer and a loaded ``program``): forked by the zygote like any
    program, from the same pristine state, it never executes candidate code (the request's
    peer, forked fresh for each request, does), so it need not be a fresh process each
    time. It serves one job at a time over a SOCK_SEQPACKET socket (see harness.py
    ``resident_main``). R replaces it after a job that did not end with its ``done`` (a
    timeout, its death, output over the cap), when it says its job was its ``last``, when
    its vitals changed (stopped, reniced, new rlimits: the candidate's doing) and with the
    limits of a request that differ from its own."""

    def __init__(self, zygote: _Zygote, program: str, limits: dict) -> None:
        self.key = _Resident.key_of(program, limits)
        own = dict(limits, cpu_s=_RESIDENT_CPU_S)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        payload = _memfd(json.dumps({"cwd": "/", "argv": ["resident"], "program": program}).encode("utf-8"),
                         "payload")
        null = os.open(os.devnull, os.O_RDWR)
        ctl = theirs.detach()
        try:
            ((self.pid, self.pidfd),) = zygote.spawn(own, [([payload, null, null, null, ctl], None)])
        except BaseException:
            ours.close()
            raise
        finally:
            for fd in (payload, null, ctl):
                os.close(fd)
        self.sock = ours
        self.baseline: tuple[str, str, str] | None = None  # vitals, taken after its first job
        self.keep = True

    @staticmethod
    def key_of(program: str, limits: dict) -> tuple[object, ...]:
        return (program, limits.get("memory_mb"), limits.get("max_processes"), limits.get("max_file_bytes"))

    def alive(self) -> bool:
        ready, _, _ = select.select([self.pidfd], [], [], 0)
        return not ready

    def send_job(self, argv: list[str], fds: list[int]) -> None:
        socket.send_fds(self.sock, [json.dumps({"argv": argv}).encode("utf-8")], fds)

    def healthy(self) -> bool:
        """Its vitals as after its first job (or none taken yet: take them now)."""
        now = _vitals(self.pid)
        if now is None or now[0] not in "RS":
            return False
        if self.baseline is None:
            self.baseline = now
        return now[1:] == self.baseline[1:]

    def close(self) -> None:
        self.sock.close()
        try:
            os.close(self.pidfd)
        except OSError:
            pass

    def pump(self, program: _Program, out: _Output, fds: list[int],
             deadline: float) -> tuple[tuple[int, float] | None, bool]:
        """``_Program.pump`` for a job: the job ends with the resident side's ``done`` (or
        ``last``) on its socket, or its death."""
        open_fds = list(fds)
        exited: tuple[int, float] | None = None
        lost = False
        grace_end: float | None = None
        while not out.over:
            now = time.monotonic()
            end = deadline if grace_end is None else min(deadline, grace_end)
            if now >= end or ((exited is not None or lost) and not open_fds):
                break
            waiting = open_fds + ([self.sock.fileno(), self.pidfd] if grace_end is None else [])
            ready, _, _ = select.select(waiting, [], [], end - now)
            if grace_end is None and (self.sock.fileno() in ready or self.pidfd in ready):
                word = b""
                try:
                    word = self.sock.recv(16, socket.MSG_DONTWAIT)
                except OSError:
                    pass
                if word in (b"done", b"last"):
                    exited = (0, 0.0)
                    self.keep = word == b"done"
                else:  # it died in the job (killed, or out of memory)
                    self.keep = False
                    exited = program.zygote.wait_exit(self.pid, 2.0)
                    lost = exited is None
                if program.peer is not None:
                    _kill_quietly(program.peer)
                grace_end = time.monotonic() + _EXIT_GRACE_S
                continue
            for fd in ready:
                if fd not in open_fds:
                    continue
                data = os.read(fd, _CHUNK)
                if not data:
                    open_fds.remove(fd)
                else:
                    out.add(fd, data)
        timed_out = exited is None and not lost and not out.over and time.monotonic() >= deadline
        if exited is None or out.over:
            self.keep = False
        return exited, timed_out


class _Slot:
    """R's one resident trusted side (or none)."""

    resident: _Resident | None = None


_SLOT = _Slot()


def _resident_for(req: dict, zygote: _Zygote) -> _Resident | None:
    """The resident side that runs this request's main program, started when needed; None
    when the request runs as a program of its own."""
    program = req.get("program")
    if req.get("resident") is not True or req.get("peer") is None or program not in _LOADED:
        return None
    limits = req["limits"]
    current = _SLOT.resident
    if current is not None and (current.key != _Resident.key_of(str(program), limits) or not current.alive()):
        _retire(zygote)
        current = None
    if current is None:
        current = _SLOT.resident = _Resident(zygote, str(program), limits)
    return current


def _retire(zygote: _Zygote) -> bool:
    """Kills and reaps the resident side; True when its exit was seen."""
    current, _SLOT.resident = _SLOT.resident, None
    if current is None:
        return True
    _kill_quietly(current.pid)
    seen = zygote.wait_exit(current.pid, 2.0) is not None
    zygote.exits.pop(current.pid, None)
    current.close()
    return seen


def _handle_resident(req: dict, zygote: _Zygote, resident: _Resident, res: _Request,
                     spawned: list[int], start: float) -> tuple[tuple[int, float] | None, bool, _Output]:
    """The request's peer forked fresh, its main side sent to the resident one as a job."""
    limits = req["limits"]
    out = _Output(int(limits["max_output_bytes"]))
    assert res.peer_fds is not None
    ((peer_pid, peer_pidfd),) = zygote.spawn(limits, [(res.peer_fds, None)])
    spawned.append(peer_pid)
    res.fds.append(peer_pidfd)
    _, stdin_fd, out_w, err_w, mark_w, main_end = res.main_fds
    try:
        resident.send_job([str(a) for a in req.get("argv") or []], [stdin_fd, out_w, err_w, mark_w, main_end])
    except OSError:
        resident.keep = False
        raise
    res.close_child_side()
    program = _Program(zygote, peer_pid, peer_pidfd, peer_pid)
    exited, timed_out = resident.pump(program, out, [res.out_r, res.err_r], start + float(limits["timeout_s"]))
    return exited, timed_out, out


def handle(req: dict, zygote: _Zygote) -> tuple[dict, _Request | None, list[int]]:
    """Runs one request. Returns (response without id, its resources for cleanup, the
    pids forked for it)."""
    start = time.monotonic()
    limits = req["limits"]
    res = _Request()
    spawned: list[int] = []
    try:
        res.prepare(req)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a bad request: never a verdict
        return _error(f"runner: bad request: {exc!r}"), res, spawned
    try:
        resident = _resident_for(req, zygote)
        if resident is not None:
            exited, timed_out, out = _handle_resident(req, zygote, resident, res, spawned, start)
            _stop_all(zygote)
            marks = _read_marks(res.mark_r)
            state, code, detail = _classify(exited, timed_out, marks, out, _cpu_limit(limits))
            return {"status": state, "exit_code": code, "stdout_b64": out.get(res.out_r),
                    "stderr_b64": out.get(res.err_r), "wall_s": time.monotonic() - start,
                    "detail": detail}, res, spawned
    except (OSError, EOFError) as exc:
        res.close_child_side()
        if _SLOT.resident is not None:
            _SLOT.resident.keep = False
        return _error(f"runner: cannot start the program: {exc}"), res, spawned
    out = _Output(int(limits["max_output_bytes"]))
    try:
        groups = [(res.main_fds, 3)] + ([(res.peer_fds, None)] if res.peer_fds is not None else [])
        children = zygote.spawn(limits, groups)
        spawned.extend(pid for pid, _ in children)
        res.fds.extend(pidfd for _, pidfd in children)
        (pid, pidfd), peer_pid = children[0], (children[1][0] if len(children) > 1 else None)
        res.close_child_side()
        program = _Program(zygote, pid, pidfd, peer_pid)
        exited, timed_out = program.pump(out, [res.out_r, res.err_r], start + float(limits["timeout_s"]))
    except (OSError, EOFError) as exc:
        res.close_child_side()
        return _error(f"runner: cannot start the program: {exc}"), res, spawned
    _stop_all(zygote)
    marks = _read_marks(res.mark_r)
    state, code, detail = _classify(exited, timed_out, marks, out, _cpu_limit(limits))
    return {
        "status": state,
        "exit_code": code,
        "stdout_b64": out.get(res.out_r),
        "stderr_b64": out.get(res.err_r),
        "wall_s": time.monotonic() - start,
        "detail": detail,
    }, res, spawned


def _error(detail: str) -> dict:
    return {"status": "sandbox_error", "exit_code": None, "stdout_b64": "", "stderr_b64": "",
            "wall_s": 0.0, "detail": detail}


def _vitals(pid: int) -> tuple[str, str, str] | None:
    """(state, nice, limits) of one of our processes, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/limits", "rb") as fh:
            limits = fh.read()
    except OSError:
        return None
    return fields[0].decode(), fields[16].decode(), limits.decode("ascii", "replace")


class _Health:
    """What a program of our uid could change about the runner and the zygote without
    killing them: stop them, lower their priority (``setpriority``) or their rlimits
    (``prlimit`` needs only the same uid). Any change means: recycle."""

    def __init__(self, zygote: _Zygote) -> None:
        self.pids = (os.getpid(), zygote.pid)
        self.baseline = [_vitals(pid) for pid in self.pids]

    def ok(self) -> bool:
        for pid, base in zip(self.pids, self.baseline):
            now = _vitals(pid)
            if base is None or now is None or now[0] not in "RS" or now[1:] != base[1:]:
                return False
        return True


def _cleanup(zygote: _Zygote, res: _Request | None, spawned: list[int], opts: _Options) -> bool:
    """After a program: True only when we can prove nothing of it is left, the zygote
    included (a program could have stopped or killed it: it must still answer)."""
    resident = _SLOT.resident
    if resident is not None and not resident.keep:
        spawned = [*spawned, resident.pid]  # killed with the program's processes, its exit awaited
        _SLOT.resident = None
        resident.close()
        resident = None
    clean = _kill_all(zygote, spawned, keep=None if resident is None else resident.pid)
    if resident is not None and not resident.healthy():
        clean = _retire(zygote) and clean
    if res is not None:
        res.close()
        for path in res.dirs:
            clean = _remove_tree(path) and clean
    for path in opts.wipe:
        clean = _empty_dir(path) and _scratch_free(path) and clean
    if opts.isolated:  # our own IPC and user namespaces: everything in them is ours
        clean = _ipc_clean() and clean
        clean = _keys_clean() and clean
    return clean and zygote.ping() and opts.health is not None and opts.health.ok()


# ---------------------------------------------------------------- main loop


class _Options:
    """``--wipe DIR`` (repeatable): dirs emptied after every request. ``--isolated``: the
    runner has IPC and user namespaces of its own (every sandbox backend), so it removes
    every SysV IPC object and clears the user keyrings after each program; never on a
    shared host, where those belong to others."""

    def __init__(self, argv: list[str]) -> None:
        self.wipe: list[str] = []
        self.isolated = False
        self.health: _Health | None = None  # set once the zygote runs
        args = list(argv)
        while args:
            flag = args.pop(0)
            if flag == "--isolated":
                self.isolated = True
            elif flag == "--wipe" and args:
                self.wipe.append(args.pop(0))
            else:
                raise SystemExit(f"runner: bad option {flag!r}")


def _serve(req: dict, zygote: _Zygote, opts: _Options, out_fd: int) -> bool:
    """Runs one request: the response frame, then the clean frame. Returns whether the
    runner may go on (a host recycles it otherwise)."""
    res: _Request | None = None
    spawned: list[int] = []
    try:
        resp, res, spawned = handle(req, zygote)
    except Exception as exc:
        resp = _error(f"runner: {exc!r}")
    resp["id"] = req.get("id")
    _write_frame(out_fd, resp)
    try:
        clean = _cleanup(zygote, res, spawned, opts)
    except Exception:
        clean = False
    _write_frame(out_fd, {"id": req.get("id"), "clean": clean})
    return clean and resp["status"] not in _RECYCLE_AFTER


# After these the host recycles the runner (see _runner_client._RECYCLE_AFTER).
_RECYCLE_AFTER = frozenset({"timeout", "memory", "output_limit", "sandbox_error"})


def main() -> int:
    opts = _Options(sys.argv[1:])
    _prctl(_PR_SET_DUMPABLE, 0)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    _STDIO[:] = _make_stdio()
    _warm_up()
    # Objects that exist now are never collected: a forked child's GC does not touch (and
    # copy-on-write) these pages.
    gc.freeze()
    zygote = _Zygote()  # before any request is read: it never holds request data
    zygote.ping()  # the zygote is up (and in its loop) before its vitals are taken
    opts.health = _Health(zygote)
    rfd, wfd = 0, 1
    _write_frame(wfd, {"ready": True, "protocol": PROTOCOL, "batch": True, "peer": True,
                       "python": sys.version.split()[0]})
    while True:
        req = _read_frame(rfd)
        if req is None:
            zygote.sock.close()  # the zygote sees EOF and leaves; reap it
            try:
                os.waitpid(zygote.pid, 0)
            except ChildProcessError:
                pass
            return 0
        op = req.get("op")
        if op == "ping":
            _write_frame(wfd, {"pong": zygote.alive})
        elif op == "load":
            try:
                error = zygote.load(str(req["name"]), str(req["code"]))
            except EOFError as exc:
                error = str(exc)
            if error is None:
                _LOADED.add(str(req["name"]))
            _write_frame(wfd, {"loaded": req.get("name"), "ok": error is None, "detail": error or ""})
        elif op == "batch":
            # Per request: a response frame and a clean frame; stop after a program the
            # host will throw this runner away for (it kills us; the rest runs elsewhere).
            for item in req.get("requests") or []:
                if not _serve(item, zygote, opts, wfd):
                    break
        else:
            _serve(req, zygote, opts, wfd)


if __name__ == "__main__":
    sys.exit(main())

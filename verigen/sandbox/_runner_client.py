"""Host side of the runner protocol (sandboxes/python/runner.py): framing, a pipe transport,
and a pool of warm runners with restart-on-crash and a host-side watchdog.

Backends differ only in how a runner is started (``spawn``): bwrap starts it inside a fresh
bubblewrap instance, docker inside a warm container. Any fault of the transport or the
runner is reported as ``SANDBOX_ERROR`` for the program in flight, never as its verdict, and
the runner is replaced.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import select
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from verigen.errors import InfrastructureError, UsageError
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus

log = logging.getLogger(__name__)

RUNNER_PATH = Path(__file__).resolve().parents[2] / "sandboxes" / "python" / "runner.py"
PROTOCOL = 1
_MAX_FRAME = 1 << 30
# Statuses after which the runner's sandbox instance is thrown away: the program pushed a
# limit, so whatever it left behind (tmpfs contents, stray processes) is not trusted.
_RECYCLE_AFTER = frozenset({ExecStatus.TIMEOUT, ExecStatus.MEMORY, ExecStatus.OUTPUT_LIMIT})


class TransportError(InfrastructureError):
    """The runner's channel broke (EOF, deadline, bad frame)."""


class Transport(Protocol):
    """A byte channel to one runner process."""

    def write(self, data: bytes) -> None: ...

    def read_exact(self, n: int, deadline: float) -> bytes:
        """``n`` bytes, or ``TransportError`` at EOF or when ``time.monotonic()`` passes
        ``deadline``."""
        ...

    def kill(self) -> None: ...

    def alive(self) -> bool: ...


def runner_source() -> bytes:
    """The runner script's bytes (to copy or bind into a sandbox)."""
    return RUNNER_PATH.read_bytes()


class PipeTransport:
    """A runner started as a subprocess, talking over its stdin/stdout pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], on_close: Callable[[], None] | None = None):
        if proc.stdin is None or proc.stdout is None:
            raise UsageError("PipeTransport needs a Popen with stdin=PIPE and stdout=PIPE")
        self._proc = proc
        self._in = proc.stdin
        self._out_fd = proc.stdout.fileno()
        self._on_close = on_close
        self._closed = False

    def write(self, data: bytes) -> None:
        try:
            self._in.write(data)
            self._in.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise TransportError(f"runner stdin closed: {exc}") from exc

    def read_exact(self, n: int, deadline: float) -> bytes:
        parts: list[bytes] = []
        while n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError("runner did not answer before the deadline")
            try:
                ready, _, _ = select.select([self._out_fd], [], [], left)
                if not ready:
                    continue
                chunk = os.read(self._out_fd, min(n, 1 << 20))
            except (OSError, ValueError) as exc:
                raise TransportError(f"runner stdout failed: {exc}") from exc
            if not chunk:
                raise TransportError(f"runner exited (code {self._proc.poll()})")
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)

    def kill(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._proc.kill()
        except OSError:
            pass
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("runner process %d did not exit after SIGKILL", self._proc.pid)
        if self._on_close is not None:
            self._on_close()

    def alive(self) -> bool:
        return not self._closed and self._proc.poll() is None


def encode_frame(obj: object) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def read_frame(transport: Transport, deadline: float) -> dict[str, object]:
    (length,) = struct.unpack(">I", transport.read_exact(4, deadline))
    if length > _MAX_FRAME:
        raise TransportError(f"runner frame of {length} bytes is over the limit")
    try:
        obj = json.loads(transport.read_exact(length, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TransportError(f"runner sent a bad frame: {exc}") from exc
    if not isinstance(obj, dict):
        raise TransportError("runner sent a frame that is not an object")
    return cast(dict[str, object], obj)


def encode_request(request_id: int, request: ExecRequest) -> bytes:
    """One request frame, as the runner protocol defines it."""
    lim = request.limits
    return encode_frame(
        {
            "id": request_id,
            "code": request.code,
            "stdin_b64": base64.b64encode(request.stdin).decode("ascii"),
            "files": {k: base64.b64encode(v).decode("ascii") for k, v in request.files.items()},
            "argv": list(request.argv),
            "limits": {
                "timeout_s": lim.timeout_s,
                "memory_mb": lim.memory_mb,
                "max_output_bytes": lim.max_output_bytes,
                "max_processes": lim.max_processes,
                "max_file_bytes": lim.max_file_bytes,
                "cpu_s": lim.cpu_s,
            },
        }
    )


def _decode(b64: object) -> str:
    return base64.b64decode(str(b64)).decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerReply:
    """A decoded response plus whether the runner is still fit for reuse."""

    result: ExecResult
    clean: bool


def decode_response(request_id: int, frame: dict[str, object]) -> RunnerReply:
    if frame.get("id") != request_id:
        raise TransportError(f"runner answered id {frame.get('id')!r}, expected {request_id}")
    try:
        status = ExecStatus(str(frame["status"]))
        code = frame.get("exit_code")
        result = ExecResult(
            status=status,
            exit_code=code if isinstance(code, int) else None,
            stdout=_decode(frame.get("stdout_b64", "")),
            stderr=_decode(frame.get("stderr_b64", "")),
            wall_s=float(cast(float, frame.get("wall_s", 0.0))),
            detail=str(frame.get("detail", "")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise TransportError(f"runner sent a malformed response: {exc!r}") from exc
    return RunnerReply(result=result, clean=frame.get("clean", True) is True)


class Runner:
    """One live runner: handshake on start, then request/response."""

    def __init__(self, transport: Transport, *, startup_timeout_s: float) -> None:
        self.transport = transport
        hello = read_frame(transport, time.monotonic() + startup_timeout_s)
        if hello.get("ready") is not True or hello.get("protocol") != PROTOCOL:
            transport.kill()
            raise TransportError(f"runner sent an unexpected greeting: {hello!r}")
        self.python = str(hello.get("python", "?"))
        self._next_id = 0

    def execute(self, request: ExecRequest, *, slack_s: float) -> RunnerReply:
        self._next_id += 1
        rid = self._next_id
        self.transport.write(encode_request(rid, request))
        deadline = time.monotonic() + request.limits.timeout_s + slack_s
        return decode_response(rid, read_frame(self.transport, deadline))

    def ping(self, timeout_s: float = 5.0) -> bool:
        try:
            self.transport.write(encode_frame({"op": "ping"}))
            return read_frame(self.transport, time.monotonic() + timeout_s).get("pong") is True
        except TransportError:
            return False


def sandbox_error(detail: str, wall_s: float = 0.0) -> ExecResult:
    return ExecResult(status=ExecStatus.SANDBOX_ERROR, wall_s=wall_s, detail=detail)


class RunnerPool:
    """``size`` warm runners; ``run`` borrows one per request (thread-safe).

    A runner that breaks, misses the host-side deadline (timeout + ``slack_s``), reports
    stray processes, or served a program that hit a limit is killed and replaced on next use.
    """

    def __init__(
        self,
        spawn: Callable[[], Transport],
        size: int,
        *,
        slack_s: float = 5.0,
        startup_timeout_s: float = 30.0,
    ) -> None:
        if size < 1:
            raise UsageError(f"runner pool size must be >= 1, got {size}")
        self._spawn = spawn
        self.size = size
        self._slack_s = slack_s
        self._startup_timeout_s = startup_timeout_s
        self._idle: queue.Queue[Runner | None] = queue.Queue()
        self._lock = threading.Lock()
        self._all: set[Runner] = set()
        self._closed = False
        self.restarts = 0
        for _ in range(size):
            self._idle.put(None)  # started lazily, or by warm_up()

    def warm_up(self) -> None:
        """Start every runner now (in parallel); raises when one cannot start."""
        slots = [self._idle.get() for _ in range(self.size)]
        with ThreadPoolExecutor(max_workers=self.size) as ex:
            started = list(ex.map(lambda r: r if r is not None else self._start(), slots))
        for runner in started:
            self._idle.put(runner)

    def _start(self) -> Runner:
        transport = self._spawn()
        try:
            runner = Runner(transport, startup_timeout_s=self._startup_timeout_s)
        except BaseException:
            transport.kill()
            raise
        with self._lock:
            self._all.add(runner)
        return runner

    def _discard(self, runner: Runner) -> None:
        with self._lock:
            self._all.discard(runner)
        runner.transport.kill()

    def run(self, request: ExecRequest) -> ExecResult:
        """Runs one program on a warm runner."""
        if self._closed:
            raise UsageError("the sandbox is closed")
        runner = self._idle.get()
        start = time.monotonic()
        keep: Runner | None = None
        try:
            if runner is None:
                runner = self._start()
            reply = runner.execute(request, slack_s=self._slack_s)
            if reply.clean and reply.result.status not in _RECYCLE_AFTER:
                keep = runner
            return reply.result
        except (TransportError, OSError) as exc:
            log.warning("sandbox runner failed, replacing it: %s", exc)
            self.restarts += 1
            return sandbox_error(f"runner failed: {exc}", time.monotonic() - start)
        finally:
            if runner is not None and keep is None:
                self._discard(runner)
            self._idle.put(keep)

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Runs ``requests`` on all runners in parallel; results in input order."""
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.size, len(requests))) as ex:
            return list(ex.map(self.run, requests))

    def close(self) -> None:
        self._closed = True
        with self._lock:
            runners = list(self._all)
            self._all.clear()
        for runner in runners:
            runner.transport.kill()


def unsandboxed_transport(python: str = "/usr/bin/python3", *, tmpdir: str | None = None) -> Transport:
    """The runner as a plain host subprocess: NO isolation. For transport-level tests and the
    throughput ceiling in benchmarks only; no backend offers this. ``tmpdir``: where its
    work dirs go (a tmpfs makes it comparable with the sandboxes)."""
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": tmpdir} if tmpdir else None
    proc = subprocess.Popen(
        [python, "-I", "-u", str(RUNNER_PATH)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    return PipeTransport(proc)

"""Host side of the runner protocol (sandboxes/python/runner.py, protocol 2): framing, a
pipe transport, and a pool of warm runners with restart-on-crash and a host-side watchdog.

Backends differ only in how a runner is started (``spawn``): bwrap starts it inside a fresh
bubblewrap instance, docker inside a warm container. Any fault of the transport or the
runner is reported as ``SANDBOX_ERROR`` for the program in flight, never as its verdict, and
the runner is replaced.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import queue
import select
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, cast

from verigen.errors import InfrastructureError, UsageError
from verigen.sandbox._files import sandbox_dir, shipped_programs
from verigen.sandbox.types import ExecPeer, ExecRequest, ExecResult, ExecStatus

log = logging.getLogger(__name__)

PROTOCOL = 2
# How long a runner may take to clean up after a program (its own files, processes, IPC
# objects) before the host gives up on it. It never delays or changes the program's result.
CLEANUP_TIMEOUT_S = 60.0
_MAX_FRAME = 1 << 30
_MAX_BATCH = 16  # requests per batch frame in run_many
_MAX_BATCH_BYTES = 4 << 20  # and their payload: the runner holds a whole frame in memory
# Statuses after which the runner's sandbox instance is thrown away: the program pushed a
# limit, or the sandbox failed, so nothing about the instance is trusted any more.
_RECYCLE_AFTER = frozenset({ExecStatus.TIMEOUT, ExecStatus.MEMORY, ExecStatus.OUTPUT_LIMIT,
                            ExecStatus.SANDBOX_ERROR})


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
        self._buf = bytearray()

    def write(self, data: bytes) -> None:
        try:
            self._in.write(data)
            self._in.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise TransportError(f"runner stdin closed: {exc}") from exc

    def read_exact(self, n: int, deadline: float) -> bytes:
        # Reads what the pipe holds (up to 1 MiB) and serves frames from that buffer: a
        # response and its clean frame usually arrive in one read.
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError("runner did not answer before the deadline")
            try:
                ready, _, _ = select.select([self._out_fd], [], [], left)
                if not ready:
                    continue
                chunk = os.read(self._out_fd, max(n - len(self._buf), 1 << 16))
            except (OSError, ValueError) as exc:
                raise TransportError(f"runner stdout failed: {exc}") from exc
            if not chunk:
                raise TransportError(f"runner exited (code {self._proc.poll()})")
            self._buf += chunk
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

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
    return encode_frame(_request_obj(request_id, request))


def encode_batch(first_id: int, requests: Sequence[ExecRequest]) -> bytes:
    """One ``batch`` frame: ``requests`` with ids ``first_id``, ``first_id + 1``, ..."""
    objs = [_request_obj(first_id + i, r) for i, r in enumerate(requests)]
    return encode_frame({"op": "batch", "requests": objs})


def _source(code: str, program: str | None, argv: Sequence[str]) -> dict[str, object]:
    if program is not None:
        return {"program": program, "argv": list(argv)}
    return {"code": code, "argv": list(argv)}


def _peer_obj(peer: ExecPeer) -> dict[str, object]:
    return _source(peer.code, peer.program, peer.argv)


def _request_obj(request_id: int, request: ExecRequest) -> dict[str, object]:
    lim = request.limits
    return {
        "id": request_id,
        **_source(request.code, request.program, request.argv),
        "peer": None if request.peer is None else _peer_obj(request.peer),
        "resident": request.resident,
        "stdin_b64": base64.b64encode(request.stdin).decode("ascii"),
        "files": {k: base64.b64encode(v).decode("ascii") for k, v in request.files.items()},
        "limits": {
            "timeout_s": lim.timeout_s,
            "memory_mb": lim.memory_mb,
            "max_output_bytes": lim.max_output_bytes,
            "max_processes": lim.max_processes,
            "max_file_bytes": lim.max_file_bytes,
            "cpu_s": lim.cpu_s,
        },
    }


def _decode(b64: object) -> str:
    return base64.b64decode(str(b64)).decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerReply:
    """A decoded response plus whether the runner is still fit for reuse."""

    result: ExecResult
    clean: bool


def decode_response(request_id: int, frame: dict[str, object]) -> ExecResult:
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
    return result


class Runner:
    """One live runner: handshake and program registration on start, then requests.

    Every response is followed by a clean frame: the runner's word, after its cleanup,
    that nothing of the program is left. A missing or late clean frame never touches the
    result (it is already in hand); it only means the runner is not reused.
    """

    def __init__(self, transport: Transport, *, startup_timeout_s: float,
                 programs: Mapping[str, str]) -> None:
        self.transport = transport
        deadline = time.monotonic() + startup_timeout_s
        hello = read_frame(transport, deadline)
        if hello.get("ready") is not True or hello.get("protocol") != PROTOCOL:
            transport.kill()
            raise TransportError(f"runner sent an unexpected greeting: {hello!r}")
        self.python = str(hello.get("python", "?"))
        self.batch = hello.get("batch") is True  # knows the "batch" op
        self._next_id = 0
        for name, code in programs.items():
            transport.write(encode_frame({"op": "load", "name": name, "code": code}))
            reply = read_frame(transport, deadline)
            if reply.get("loaded") != name or reply.get("ok") is not True:
                raise TransportError(f"runner could not load program {name!r}: {reply.get('detail')}")

    def _clean(self, request_id: int) -> bool:
        try:
            frame = read_frame(self.transport, time.monotonic() + CLEANUP_TIMEOUT_S)
        except TransportError as exc:
            log.warning("runner gave no clean frame (%s): discarding it", exc)
            return False
        return frame.get("id") == request_id and frame.get("clean") is True

    def execute(self, request: ExecRequest, *, slack_s: float) -> RunnerReply:
        self._next_id += 1
        rid = self._next_id
        self.transport.write(encode_request(rid, request))
        deadline = time.monotonic() + request.limits.timeout_s + slack_s
        result = decode_response(rid, read_frame(self.transport, deadline))
        return RunnerReply(result=result, clean=self._clean(rid))

    def execute_batch(
        self, requests: Sequence[ExecRequest], *, slack_s: float
    ) -> Iterator[RunnerReply]:
        """Sends ``requests`` in one frame and yields their replies in order, as each
        arrives (each with its own deadline). The runner stops after a reply the pool
        recycles it for: the caller must then stop reading and discard the runner."""
        first = self._next_id + 1
        self._next_id += len(requests)
        self.transport.write(encode_batch(first, requests))
        for i, request in enumerate(requests):
            deadline = time.monotonic() + request.limits.timeout_s + slack_s
            result = decode_response(first + i, read_frame(self.transport, deadline))
            yield RunnerReply(result=result, clean=self._clean(first + i))

    def ping(self, timeout_s: float = 5.0) -> bool:
        try:
            self.transport.write(encode_frame({"op": "ping"}))
            return read_frame(self.transport, time.monotonic() + timeout_s).get("pong") is True
        except TransportError:
            return False


def _size(request: ExecRequest) -> int:
    return len(request.code) + len(request.stdin) + sum(len(v) for v in request.files.values())


def _take_chunk(
    todo: collections.deque[int], requests: Sequence[ExecRequest], workers: int
) -> list[int]:
    """The next indices for one batch frame (at least one): about a quarter of each worker's
    share of what is left, at most ``_MAX_BATCH`` requests and ``_MAX_BATCH_BYTES``."""
    n = max(1, min(_MAX_BATCH, len(todo) // (workers * 4)))
    chunk = [todo.popleft()]
    size = _size(requests[chunk[0]])
    while todo and len(chunk) < n and size + _size(requests[todo[0]]) <= _MAX_BATCH_BYTES:
        size += _size(requests[todo[0]])
        chunk.append(todo.popleft())
    return chunk


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
        post: Callable[[ExecResult, Transport], ExecResult] | None = None,
        programs: Mapping[str, str] | None = None,
    ) -> None:
        if size < 1:
            raise UsageError(f"runner pool size must be >= 1, got {size}")
        self._spawn = spawn
        self.size = size
        self._slack_s = slack_s
        self._startup_timeout_s = startup_timeout_s
        # Backend hook on every result, with the transport that produced it (docker: OOM).
        self._post = post if post is not None else (lambda result, _transport: result)
        # Trusted programs every runner registers at start (ExecRequest.program names them).
        self._programs = dict(shipped_programs() if programs is None else programs)
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
            runner = Runner(transport, startup_timeout_s=self._startup_timeout_s,
                            programs=self._programs)
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
        results: list[ExecResult | None] = [None]
        self._run_batch([0], [request], results)
        return cast(ExecResult, results[0])

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Runs ``requests`` on all runners in parallel; results in input order.

        Each thread sends its runner a few requests per frame (the runner's ``batch`` op):
        one round trip for several programs. Chunks shrink as the queue empties, so the
        runners finish together.
        """
        if not requests:
            return []
        results: list[ExecResult | None] = [None] * len(requests)
        todo = collections.deque(range(len(requests)))
        lock = threading.Lock()
        workers = min(self.size, len(requests))

        def worker() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    chunk = _take_chunk(todo, requests, workers)
                left = self._run_batch(chunk, requests, results)
                if left:
                    with lock:
                        todo.extendleft(reversed(left))

        with ThreadPoolExecutor(max_workers=workers) as ex:
            for future in [ex.submit(worker) for _ in range(workers)]:
                future.result()
        return cast(list[ExecResult], results)

    def _run_batch(
        self, chunk: list[int], requests: Sequence[ExecRequest], results: list[ExecResult | None]
    ) -> list[int]:
        """Runs ``requests[i]`` for ``i`` in ``chunk`` on one runner, into ``results[i]``;
        returns the indices it did not run (the runner was recycled before them)."""
        if self._closed:
            raise UsageError("the sandbox is closed")
        runner = self._idle.get()
        start = time.monotonic()
        keep: Runner | None = None
        done = 0
        try:
            if runner is None:
                runner = self._start()
            batch = [requests[i] for i in chunk]
            if len(batch) == 1 or not runner.batch:  # the rest goes back to the queue
                reply = runner.execute(batch[0], slack_s=self._slack_s)
                replies: Iterator[RunnerReply] = iter([reply])
            else:
                replies = runner.execute_batch(batch, slack_s=self._slack_s)
            for reply in replies:
                results[chunk[done]] = self._post(reply.result, runner.transport)
                done += 1
                if not reply.clean or reply.result.status in _RECYCLE_AFTER:
                    return chunk[done:]
                start = time.monotonic()
            keep = runner
            return chunk[done:]
        except (TransportError, OSError) as exc:
            log.warning("sandbox runner failed, replacing it: %s", exc)
            self.restarts += 1
            error = sandbox_error(f"runner failed: {exc}", time.monotonic() - start)
            results[chunk[done]] = error if runner is None else self._post(error, runner.transport)
            return chunk[done + 1 :]
        finally:
            if runner is not None and keep is None:
                self._discard(runner)
            self._idle.put(keep)

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
        [python, "-I", "-u", str(sandbox_dir() / "runner.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    return PipeTransport(proc)

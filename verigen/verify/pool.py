"""Bounded, killable verification.

``ProcessVerifyPool`` runs ``verifier.verify`` in long-lived worker processes. Each check
has a time limit enforced from the parent (never SIGALRM, so it is safe from threads): an
overrun kills that worker, the check becomes ``Outcome.TIMEOUT`` and a fresh worker takes
its place. A worker that dies for any other reason is an infrastructure fault: the check is
retried once on a fresh worker, then reported as ``Outcome.ERROR``.

``ThreadVerifyPool`` is for verifiers that already bound the candidate in a sandbox.
Both expose ``submit(problem, text) -> Future[Verdict]`` and ``close()``.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import os
import queue
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

from verigen.sandbox.base import RUNNERS_PER_CORE as SANDBOX_RUNNERS_PER_CORE
from verigen.types import Outcome, Problem, Verdict
from verigen.verify.base import Verifier

log = logging.getLogger(__name__)

# Address-space cap of a verifier worker: a pathological expression fails inside the worker
# (MemoryError -> ERROR there, or the worker dies) instead of swapping the host.
WORKER_MEMORY_BYTES = 4 << 30
_STOP = None
_READY = "ready"
# A worker that cannot start within this many seconds is an infrastructure fault.
WORKER_START_TIMEOUT_S = 120.0


class VerifyPool(Protocol):
    def submit(self, problem: Problem[Any], text: str) -> Future[Verdict]: ...

    def close(self) -> None: ...


def _worker_main(conn: Connection, verifier: Verifier) -> None:
    """Worker process: set up, say ready, then verify jobs until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    # Heavy imports happen before "ready", so they never eat into a check's time limit.
    for module in getattr(verifier, "preload_modules", ()):
        importlib.import_module(module)
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is _STOP:
            return
        problem, text = job
        try:
            verdict = verifier.verify(problem, text)
        except BaseException as exc:
            verdict = Verdict(
                outcome=Outcome.ERROR,
                detail=f"verifier raised {type(exc).__name__}: {exc}"[:500],
                verifier=verifier.name,
                verifier_version=verifier.version,
            )
            log.debug("verifier fault: %s", traceback.format_exc())
        conn.send(verdict)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: mp.context.BaseContext, verifier: Verifier) -> None:
        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker_main, args=(child, verifier), daemon=True)  # type: ignore[attr-defined]
        self.proc.start()
        child.close()

    def wait_ready(self) -> None:
        """Block until the worker has set up; raises EOFError when it cannot start."""
        if not self.conn.poll(WORKER_START_TIMEOUT_S):
            raise EOFError(f"worker did not start within {WORKER_START_TIMEOUT_S:g}s")
        if self.conn.recv() != _READY:
            raise EOFError("worker sent something other than ready")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(_STOP)
        except (OSError, ValueError):
            pass
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.kill()
        else:
            self.conn.close()


_Job = tuple[Problem[Any], str, "Future[Verdict]"]


class ProcessVerifyPool:
    """``workers`` killable processes, each check limited to ``verifier.time_limit_s``."""

    def __init__(self, verifier: Verifier, *, workers: int = 2, time_limit_s: float | None = None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.verifier = verifier
        self.time_limit_s = time_limit_s if time_limit_s is not None else verifier.time_limit_s
        # forkserver: workers never fork from a process that holds threads (torch, rich).
        self._ctx = mp.get_context("forkserver")
        preload = tuple(getattr(verifier, "preload_modules", ()))
        if preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._slot, name=f"verify-{i}", daemon=True)
            for i in range(workers)
        ]
        self._closed = False
        for t in self._threads:
            t.start()

    def submit(self, problem: Problem[Any], text: str) -> Future[Verdict]:
        if self._closed:
            raise RuntimeError("pool is closed")
        fut: Future[Verdict] = Future()
        self._jobs.put((problem, text, fut))
        return fut

    def _verdict(self, outcome: Outcome, detail: str) -> Verdict:
        return Verdict(
            outcome=outcome,
            detail=detail,
            verifier=self.verifier.name,
            verifier_version=self.verifier.version,
        )

    def _run_one(self, worker: _Worker | None, problem: Problem[Any], text: str) -> tuple[_Worker | None, Verdict]:
        """One check with one retry on a crashed worker. Returns the worker to keep."""
        for attempt in (1, 2):
            try:
                if worker is None:
                    worker = _Worker(self._ctx, self.verifier)
                    worker.wait_ready()
                worker.conn.send((problem, text))
                if worker.conn.poll(self.time_limit_s):
                    result = worker.conn.recv()
                    if isinstance(result, Verdict):
                        return worker, result
                    raise EOFError(f"worker answered {type(result).__name__}")
            except (EOFError, OSError, BrokenPipeError) as exc:
                log.warning("verifier worker died (attempt %d): %s", attempt, exc)
                if worker is not None:
                    worker.kill()
                worker = None
                continue
            worker.kill()
            return None, self._verdict(
                Outcome.TIMEOUT, f"verification exceeded {self.time_limit_s:g}s time limit"
            )
        return worker, self._verdict(Outcome.ERROR, "verifier worker died twice on this input")

    def _slot(self) -> None:
        worker: _Worker | None = None
        while True:
            job = self._jobs.get()
            if job is None:
                break
            problem, text, fut = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                worker, verdict = self._run_one(worker, problem, text)
            except BaseException as exc:
                verdict = self._verdict(Outcome.ERROR, f"verify pool fault: {exc}")
            fut.set_result(verdict)
        if worker is not None:
            worker.stop()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join()


class ThreadVerifyPool:
    """For sandbox-backed verifiers: the candidate already runs bounded elsewhere."""

    def __init__(self, verifier: Verifier, *, workers: int = 2) -> None:
        self.verifier = verifier
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify")

    def _guarded(self, problem: Problem[Any], text: str) -> Verdict:
        try:
            return self.verifier.verify(problem, text)
        except Exception as exc:
            return Verdict(
                outcome=Outcome.ERROR,
                detail=f"verifier raised {type(exc).__name__}: {exc}"[:500],
                verifier=self.verifier.name,
                verifier_version=self.verifier.version,
            )

    def submit(self, problem: Problem[Any], text: str) -> Future[Verdict]:
        return self._executor.submit(self._guarded, problem, text)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class DedupPool:
    """Verifies each distinct (problem, candidate) once: a duplicate shares the first one's
    verdict. The candidate is the verifier's ``cache_key(problem, text)`` where it has one
    (the code verifiers: the extracted program), else the text. An ERROR is never shared:
    a duplicate of a check that failed for infrastructure reasons is checked again."""

    def __init__(self, inner: VerifyPool, key: Callable[[Problem[Any], str], str] | None) -> None:
        self.inner = inner
        self._key = key
        self._seen: dict[tuple[str, str], Future[Verdict]] = {}
        self._lock = threading.Lock()
        self.shared = 0  # how many checks a duplicate saved

    def submit(self, problem: Problem[Any], text: str) -> Future[Verdict]:
        key = (problem.id, self._key(problem, text) if self._key is not None else text)
        with self._lock:
            first = self._seen.get(key)
            if first is None:
                fut = self.inner.submit(problem, text)
                self._seen[key] = fut
                return fut
            self.shared += 1
        mine: Future[Verdict] = Future()

        def done(f: Future[Verdict]) -> None:
            verdict = f.result()
            if verdict.outcome is not Outcome.ERROR:
                mine.set_result(verdict)
                return
            retry = self.inner.submit(problem, text)
            retry.add_done_callback(lambda r: mine.set_result(r.result()))

        first.add_done_callback(done)
        return mine

    def close(self) -> None:
        self.inner.close()


def default_workers(verifier: Verifier) -> int:
    """Checks in flight when the config leaves it open: one per CPU core where each check
    is CPU work in a pool process; two per core where each runs in a sandbox runner (a
    check there is a few processes handing messages to each other: with one per core the
    cores idle between the hand-offs)."""
    cores = os.cpu_count() or 1
    return cores if verifier.needs_process_isolation else SANDBOX_RUNNERS_PER_CORE * cores


def open_pool(verifier: Verifier, *, workers: int | None, time_limit_s: float | None = None,
              dedup: bool = True) -> VerifyPool:
    """The right pool for ``verifier`` (see ``Verifier.needs_process_isolation``), checking
    identical candidates once (``dedup``); ``workers`` None: ``default_workers``."""
    workers = default_workers(verifier) if workers is None else workers
    pool: VerifyPool
    if verifier.needs_process_isolation:
        pool = ProcessVerifyPool(verifier, workers=workers, time_limit_s=time_limit_s)
    else:
        pool = ThreadVerifyPool(verifier, workers=workers)
    return DedupPool(pool, getattr(verifier, "cache_key", None)) if dedup else pool


def verify_all(
    pool: VerifyPool, jobs: Iterable[tuple[Problem[Any], str]], *, window: int = 256
) -> Iterator[Verdict]:
    """Verdicts in job order, with at most ``window`` checks in flight."""
    pending: list[Future[Verdict]] = []
    for problem, text in jobs:
        pending.append(pool.submit(problem, text))
        if len(pending) >= window:
            yield pending.pop(0).result()
    for fut in pending:
        yield fut.result()

"""A sampler and a verifier pool that feed Ray actors in bounded batches.

``RaySampler`` looks like any sampler to the engine: ``stream`` sends batches of requests
to the sampler actors (at most ``in_flight`` per actor) and yields each batch's outputs
when the whole batch is back. ``RayVerifyPool`` looks like any pool: ``submit`` gathers
checks into batches for the verifier actors and blocks once ``in_flight`` batches per actor
are out, so generation never outruns verification (the engine pulls the next sample only
after ``submit`` returns).

A batch whose actor dies (process killed, node lost) is sent again, to a restarted or
another actor, up to ``max_attempts`` times in all. Nothing of a lost batch was delivered,
so a retried batch neither loses nor duplicates a sample. A verification batch that fails
every attempt becomes ``Outcome.ERROR`` verdicts (an infrastructure fault: counted, kept out
of data, re-verified by a rerun); a generation batch that fails every attempt fails the run.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from verigen.engine import SamplerSpec
from verigen.executors import RayOptions
from verigen.executors._session import PoolKey
from verigen.sampling.base import SampleOutput, SampleRequest
from verigen.types import JSONValue, Outcome, Problem, SamplingParams, Verdict

log = logging.getLogger(__name__)

# A partial verification batch waits at most this long for more checks before it is sent.
LINGER_S = 0.05
# A lost batch waits this long before it is sent again, doubled at each attempt up to
# RETRY_DELAY_MAX_S: a killed actor takes seconds to restart (more on a loaded node), and a
# call to a restarting actor fails at once.
RETRY_DELAY_S = 1.0
RETRY_DELAY_MAX_S = 10.0


def retry_delay(attempt: int) -> float:
    return min(RETRY_DELAY_S * 2.0 ** (attempt - 1), RETRY_DELAY_MAX_S)


def _ray() -> Any:
    import ray

    return ray


@dataclass(slots=True)
class _Batch:
    items: list[Any]
    attempt: int = 1
    errors: list[str] = field(default_factory=list)


class RaySampler:
    """The engine's sampler, backed by sampler actors (one loaded model each)."""

    def __init__(self, actors: Sequence[Any], options: RayOptions, spec: SamplerSpec, *, name: str, model_id: str) -> None:
        if not actors:
            raise ValueError("RaySampler needs at least one actor")
        self._actors = list(actors)
        self._options = options
        self.spec = spec  # sent with every batch: a restarted actor loads this model again
        self.name = name
        self.model_id = model_id
        self._provenance: dict[str, JSONValue] | None = None
        self.retried = 0  # batches sent again after their actor died

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        if self._provenance is None:
            self._provenance = _ray().get(self._actors[0].provenance.remote(self.spec, params))
        return self._provenance

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        ray = _ray()
        step = self._options.request_batch
        todo = deque(_Batch(list(requests[i:i + step])) for i in range(0, len(requests), step))
        limit = self._options.in_flight * len(self._actors)
        turn = itertools.cycle(self._actors)
        out: dict[Any, _Batch] = {}
        try:
            while todo or out:
                while todo and len(out) < limit:
                    batch = todo.popleft()
                    out[next(turn).sample.remote(self.spec, batch.items, params)] = batch
                ready, _ = ray.wait(list(out), num_returns=1)
                for ref in ready:
                    batch = out.pop(ref)
                    try:
                        outputs: list[SampleOutput] = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        todo.appendleft(self._again(batch, exc, "generation"))
                        continue
                    yield from outputs
        finally:
            for ref in out:  # closed early: cancel what is still being generated
                ray.cancel(ref, force=False)

    def _again(self, batch: _Batch, exc: BaseException, what: str) -> _Batch:
        batch.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        if batch.attempt >= self._options.max_attempts:
            raise RuntimeError(
                f"a {what} batch failed on {batch.attempt} Ray actors in a row; last: {batch.errors[-1]}"
            ) from exc
        log.warning("%s batch lost (attempt %d), sending it again: %s", what, batch.attempt, batch.errors[-1])
        self.retried += 1
        time.sleep(retry_delay(batch.attempt))
        return _Batch(batch.items, batch.attempt + 1, batch.errors)

    def close(self) -> None:
        return None  # the actors belong to the executor


_Job = tuple[Problem[Any], str, "Future[Verdict]"]


class RayVerifyPool:
    """The engine's verifier pool, backed by verifier actors; ``submit`` applies backpressure."""

    def __init__(self, actors: Sequence[Any], options: RayOptions, key: PoolKey, *, verifier: str, version: str) -> None:
        if not actors:
            raise ValueError("RayVerifyPool needs at least one actor")
        self._actors = list(actors)
        self._key = key  # sent with every batch: which of an actor's pools checks it
        self._turn = itertools.cycle(self._actors)
        self._options = options
        self._verifier = (verifier, version)
        self._slots = threading.Semaphore(options.in_flight * len(self._actors))
        self._lock = threading.Lock()
        self._open: list[_Job] = []
        self._opened_at = 0.0
        self._out: dict[Any, _Batch] = {}
        self._wake = threading.Event()
        self._closing = False
        self._broken: str | None = None
        self.retried = 0
        self._thread = threading.Thread(target=self._collect, name="verigen-ray-verify", daemon=True)
        self._thread.start()

    def submit(self, problem: Problem[Any], text: str) -> Future[Verdict]:
        if self._closing:
            raise RuntimeError(self._broken or "pool is closed")
        fut: Future[Verdict] = Future()
        with self._lock:
            if not self._open:
                self._opened_at = time.monotonic()
            self._open.append((problem, text, fut))
            full = self._take() if len(self._open) >= self._options.verify_batch else None
        if full is not None:
            # Backpressure: blocks the engine, hence the sampler stream, until a batch is back.
            while not self._slots.acquire(timeout=0.5):
                if self._broken is not None:
                    raise RuntimeError(self._broken)
            self._send(_Batch(full))
        return fut

    def _take(self) -> list[_Job]:
        jobs, self._open = self._open, []
        return jobs

    def _send(self, batch: _Batch) -> None:
        """Send a batch that holds a slot."""
        actor = next(self._turn)
        ref = actor.verify.remote(self._key, [(problem, text) for problem, text, _ in batch.items])
        with self._lock:
            self._out[ref] = batch
        self._wake.set()

    def _collect(self) -> None:
        try:
            self._collect_loop()
        except BaseException as exc:  # the cluster went away: every check still out is an ERROR
            log.exception("Ray verification collector failed")
            self._fail_all(f"Ray verification failed: {type(exc).__name__}: {exc}"[:500])

    def _fail_all(self, detail: str) -> None:
        self._broken = detail
        self._closing = True
        with self._lock:
            jobs = self._take() + [job for batch in self._out.values() for job in batch.items]
            self._out.clear()
        for _, _, fut in jobs:
            if not fut.done():
                fut.set_result(Verdict(outcome=Outcome.ERROR, detail=detail, verifier=self._verifier[0],
                                       verifier_version=self._verifier[1]))

    def _collect_loop(self) -> None:
        ray = _ray()
        while True:
            with self._lock:
                refs = list(self._out)
                aged = bool(self._open) and (self._closing or time.monotonic() - self._opened_at >= LINGER_S)
            if aged and self._slots.acquire(blocking=False):  # never block here: this thread frees slots
                with self._lock:
                    jobs = self._take()
                if jobs:
                    self._send(_Batch(jobs))
                else:
                    self._slots.release()
                continue
            if not refs:
                if self._closing and not self._open:
                    return
                self._wake.wait(LINGER_S)
                self._wake.clear()
                continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=LINGER_S)
            for ref in ready:
                with self._lock:
                    batch = self._out.pop(ref)
                self._settle(ray, ref, batch)

    def _settle(self, ray: Any, ref: Any, batch: _Batch) -> None:
        try:
            verdicts: list[Verdict] = ray.get(ref)
            if len(verdicts) != len(batch.items):
                raise RuntimeError(f"verifier actor returned {len(verdicts)} verdicts for {len(batch.items)} checks")
        except ray.exceptions.RayError as exc:
            batch.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            if batch.attempt < self._options.max_attempts:
                log.warning("verification batch lost (attempt %d), sending it again: %s", batch.attempt, batch.errors[-1])
                self.retried += 1
                time.sleep(retry_delay(batch.attempt))  # holds up this collector only: the engine waits anyway
                self._send(_Batch(batch.items, batch.attempt + 1, batch.errors))  # keeps its slot
                return
            detail = f"verification batch failed on {batch.attempt} Ray actors; last: {batch.errors[-1]}"[:500]
            verdicts = [Verdict(outcome=Outcome.ERROR, detail=detail, verifier=self._verifier[0],
                                verifier_version=self._verifier[1]) for _ in batch.items]
        except BaseException as exc:  # a malformed answer is a fault of the machinery, never a verdict
            detail = f"verification batch fault: {type(exc).__name__}: {exc}"[:500]
            verdicts = [Verdict(outcome=Outcome.ERROR, detail=detail, verifier=self._verifier[0],
                                verifier_version=self._verifier[1]) for _ in batch.items]
        self._slots.release()
        for (_, _, fut), verdict in zip(batch.items, verdicts):
            fut.set_result(verdict)

    def close(self) -> None:
        """Send what is gathered, wait for every batch out, stop (the actors stay)."""
        self._closing = True
        self._wake.set()
        self._thread.join()

"""``execute``: sample, verify and write a planned run; the one place with concurrency.

The sampler streams completions; each goes to the verifier pool the moment it is done, so
verification overlaps generation from the first completion on. Verdicts are appended to
the run directory as they arrive (any order; every row is keyed by (problem_id, index));
derived files are rebuilt from ``samples.jsonl`` at the end, so a killed run resumes
without loss or duplicates.

``execute`` takes an open sampler and an open verifier pool from its caller (a loop that
runs several rounds on one loaded model, an executor) and closes only what it opened.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from verigen.engine._finalize import ErrorRateExceeded, RunSummary, SamplerInfo, finalize
from verigen.engine._plan import Plan
from verigen.guarded import task_verifier
from verigen.records import SampleRecord
from verigen.rundir import RunDir, write_jsonl_atomic
from verigen.sampling.base import Sampler, SampleRequest, create_sampler
from verigen.task import Task
from verigen.types import Outcome, Problem, Sample, SamplingParams, Verdict
from verigen.verify.base import Verifier
from verigen.verify.pool import VerifyPool, open_pool

log = logging.getLogger(__name__)

# Verdicts are fsynced in groups of at most this many rows, gathered for at most this long.
WRITE_BATCH = 256
FLUSH_INTERVAL_S = 0.2


class ProgressSink(Protocol):
    def stage(self, name: str, total: int, done: int = 0) -> None: ...

    def advance(self, name: str, n: int = 1) -> None: ...


class NullProgress:
    def stage(self, name: str, total: int, done: int = 0) -> None:
        return None

    def advance(self, name: str, n: int = 1) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """What a run directory still lacks for a plan: samples to draw, ERRORs to re-verify."""

    requests: tuple[SampleRequest, ...]
    retry: tuple[SampleRecord, ...]
    resumed: int  # finished samples kept as they are

    @property
    def samples(self) -> int:
        return sum(len(r.indices) for r in self.requests)


def pending(p: Plan, latest: dict[tuple[str, int], SampleRecord]) -> Pending:
    n = p.config.sampling.n
    wanted = {pr.id for pr in p.problems}
    requests = []
    for pr in p.problems:
        missing = tuple(i for i in range(n) if (pr.id, i) not in latest)
        if missing:
            requests.append(SampleRequest(problem_id=pr.id, messages=p.task.messages(pr), indices=missing))
    # An ERROR is a fault of the machinery, not a verdict: a rerun verifies those again.
    retry = tuple(
        r for r in latest.values()
        if r.verdict.outcome is Outcome.ERROR and r.sample.problem_id in wanted and r.sample.index < n
    )
    kept = sum(1 for r in latest.values() if r.sample.problem_id in wanted and r.sample.index < n)
    return Pending(requests=tuple(requests), retry=retry, resumed=kept - len(retry))


def open_sampler(p: Plan) -> Sampler:
    """Load the plan's model with its backend (slow): for callers that keep it open."""
    return create_sampler(p.config.model.backend, p.config.model.name, p.sampler_options)


def open_verifier_pool(p: Plan) -> tuple[Verifier, VerifyPool]:
    """A fresh verifier of the plan's task and a pool over it; close the pool, then the verifier."""
    verifier = task_verifier(p.task)
    try:
        return verifier, open_pool(verifier, workers=p.config.verify.workers, time_limit_s=p.config.verify.time_limit_s)
    except BaseException:
        verifier.close()
        raise


def execute(
    p: Plan,
    progress: ProgressSink | None = None,
    *,
    sampler: Sampler | None = None,
    pool: VerifyPool | None = None,
) -> RunSummary:
    """Run a validated plan: sample what is missing, verify, write, summarise.

    ``sampler`` / ``pool``: already open ones to use (and leave open); without them the
    engine opens what the work needs (no model when nothing is left to sample) and closes
    it. Raises ``ErrorRateExceeded`` (after every file is written) when infrastructure
    faults exceed ``verify.max_error_rate``.
    """
    progress = progress or NullProgress()
    rundir = RunDir(p.out, p.config)
    todo = pending(p, rundir.latest())  # reads only: nothing is written before the model loads
    closers: list[Callable[[], None]] = []
    started = datetime.now(UTC).isoformat()
    if p.config.output.report_plots and (todo.requests or todo.retry):
        from verigen.report._plots import warm_up_in_background

        warm_up_in_background()  # while the model and the sandboxes start
    try:
        if sampler is None and todo.requests:
            sampler = open_sampler(p)
            closers.append(sampler.close)
        info = SamplerInfo.of(sampler, p.config.sampling.params()) if sampler is not None else None
        if pool is None and (todo.requests or todo.retry):
            verifier, pool = open_verifier_pool(p)
            closers += [verifier.close, pool.close]
        rundir.open()
        closers.append(rundir.close)
        write_jsonl_atomic(rundir.path / "problems.jsonl", [_problem_row(p.task, pr) for pr in p.problems])
        new = 0
        if todo.requests or todo.retry:
            if pool is None:  # opened above whenever there is work
                raise RuntimeError("no verifier pool for pending work")
            new = _run(p, todo, sampler, pool, rundir, progress)
    finally:
        for close in reversed(closers):
            close()
    summary = finalize(p, rundir, sampler=info, new=new, resumed=todo.resumed, started=started)
    if summary.error_rate_exceeded:
        raise ErrorRateExceeded(summary)
    return summary


def _run(p: Plan, todo: Pending, sampler: Sampler | None, pool: VerifyPool, rundir: RunDir,
         progress: ProgressSink) -> int:
    params = p.config.sampling.params()
    by_id = {pr.id: pr for pr in p.problems}
    total = len(p.problems) * params.n
    progress.stage("sampling", total, total - todo.samples)
    progress.stage("verifying", total, todo.resumed)
    writer = _Writer(rundir, p.task.name, progress)
    try:
        for rec in todo.retry:
            writer.submit(pool, by_id[rec.sample.problem_id], rec.sample)
        if todo.requests:
            if sampler is None:
                raise RuntimeError("no sampler for pending samples")
            for sample in _samples(sampler, todo.requests, params):
                writer.submit(pool, by_id[sample.problem_id], sample)
                progress.advance("sampling")
        writer.finish()
    finally:
        writer.stop()
    return writer.written


def _samples(sampler: Sampler, requests: tuple[SampleRequest, ...], params: SamplingParams) -> Iterator[Sample]:
    """The sampler's stream as ``Sample`` records; a missing, repeated or unasked-for
    sample is a fault of the backend, never silently accepted."""
    expected = {(r.problem_id, i) for r in requests for i in r.indices}
    stream = sampler.stream(requests, params)
    try:
        for out in stream:
            key = (out.problem_id, out.index)
            if key not in expected:
                raise RuntimeError(f"sampler {sampler.name!r} returned sample {key} that was not asked for (or twice)")
            expected.discard(key)
            c = out.completion
            yield Sample(
                problem_id=out.problem_id, index=out.index, text=c.text, model=sampler.model_id, params=params,
                finish_reason=c.finish_reason, prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens, latency_s=out.latency_s,
            )
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()  # cancels what the backend has left when we stop early
    if expected:
        raise RuntimeError(f"sampler {sampler.name!r} ended without {len(expected)} requested samples, e.g. {min(expected)}")


class _Writer:
    """Appends verdicts in completion order from its own thread, in fsynced groups, so a
    verdict is on disk while the sampler is still busy with the next batch."""

    def __init__(self, rundir: RunDir, task: str, progress: ProgressSink) -> None:
        self._rundir = rundir
        self._task = task
        self._progress = progress
        self._done: queue.SimpleQueue[SampleRecord | None] = queue.SimpleQueue()
        self._submitted = 0
        self._finished = 0
        self._lock = threading.Lock()
        self._fault: BaseException | None = None
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="verigen-writer", daemon=True)
        self._thread.start()

    def submit(self, pool: VerifyPool, problem: Problem[object], sample: Sample) -> None:
        if self._fault is not None:
            raise self._fault
        fut = pool.submit(problem, sample.text)
        self._submitted += 1
        fut.add_done_callback(lambda f: self._verified(self._record(sample, f)))

    def _verified(self, record: SampleRecord) -> None:
        with self._lock:
            self._done.put(record)
            self._finished += 1

    def _record(self, sample: Sample, fut: Future[Verdict]) -> SampleRecord:
        try:
            verdict = fut.result()
        except BaseException as exc:  # a pool fault is an infrastructure fault, never a verdict
            verdict = Verdict(outcome=Outcome.ERROR, detail=f"verify pool fault: {type(exc).__name__}: {exc}"[:500])
        return SampleRecord(task=self._task, sample=sample, verdict=verdict)

    def _loop(self) -> None:
        stop = False
        while not stop:
            first = self._done.get()
            batch = [first] if first is not None else []
            stop = first is None
            # Group commit: an fsync costs milliseconds, so gather what finishes within
            # FLUSH_INTERVAL_S of the first row (a killed run loses at most that much).
            deadline = time.monotonic() + FLUSH_INTERVAL_S
            while len(batch) < WRITE_BATCH and not stop:
                try:
                    item = self._done.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                stop = item is None
                if item is not None:
                    batch.append(item)
            try:
                self.written += self._rundir.append(batch)
            except BaseException as exc:  # disk full, closed dir: surfaced by finish()
                self._fault = exc
                return
            self._progress.advance("verifying", len(batch))

    def finish(self) -> None:
        """Wait for every submitted verdict, then write what is left at once."""
        while self._fault is None and self._finished < self._submitted and self._thread.is_alive():
            time.sleep(0.005)
        self.stop()
        if self._fault is not None:
            raise self._fault

    def stop(self) -> None:
        if self._thread.is_alive():
            self._done.put(None)
            self._thread.join()


def _problem_row(task: Task[object], problem: Problem[object]) -> dict[str, object]:
    return {
        "id": problem.id,
        "task": problem.task,
        "prompt": problem.prompt,
        "messages": [m.to_json() for m in task.messages(problem)],
        "prompting": task.prompt_record(problem),
        "reference": task.encode_reference(problem.reference),
        "metadata": dict(problem.metadata),
    }

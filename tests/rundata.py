"""Build a finished run directory directly (no sampler, no verifier), for export, report and
decontamination tests and for benchmarks/report_scale.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from verigen.config import build_config, to_toml_dict
from verigen.metrics import ScoredItem, compute_metrics
from verigen.records import SampleRecord
from verigen.types import Outcome, Sample, SamplingParams, Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class S:
    """One planted sample."""

    problem: str
    index: int
    text: str
    outcome: Outcome
    answer: str | None = None
    detail: str = ""


def write_run(
    path: Path,
    problems: Sequence[tuple[str, str]],
    samples: Sequence[S],
    *,
    task: str = "toy",
    split: str = "train",
    mode: str = "generate",
    n: int | None = None,
    sets: Sequence[str] = (),
    model: str = "fake:planted",
    metrics: bool = True,
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    n = n or max((s.index for s in samples), default=0) + 1
    cfg = build_config(overrides=[f"mode={mode}", f"task.name={task}", f"task.split={split}", f"sampling.n={n}",
                                  "model.backend=fake", f"output.out={path}", *sets])
    (path / "config.toml").write_text(tomli_w.dumps(to_toml_dict(cfg)))
    with open(path / "problems.jsonl", "w", encoding="utf-8") as fh:
        for pid, prompt in problems:
            row = {"id": pid, "task": task, "prompt": prompt, "messages": [{"role": "user", "content": prompt}],
                   "reference": {"gold": "x"}, "metadata": {}}
            fh.write(json.dumps(row) + "\n")
    params = SamplingParams(n=n, temperature=0.7, top_p=0.95, max_tokens=64, seed=3)
    by_problem: dict[str, list[ScoredItem]] = {pid: [] for pid, _ in problems}
    with open(path / "samples.jsonl", "w", encoding="utf-8") as fh:
        for s in samples:
            rec = SampleRecord(
                task=task,
                sample=Sample(problem_id=s.problem, index=s.index, text=s.text, model=model, params=params,
                              finish_reason="stop", prompt_tokens=10, completion_tokens=max(1, len(s.text.split())),
                              latency_s=0.01),
                verdict=Verdict(outcome=s.outcome, answer=s.answer, detail=s.detail, verifier="planted", verifier_version="1"),
            )
            fh.write(json.dumps(rec.to_json()) + "\n")
            by_problem.setdefault(s.problem, []).append(ScoredItem(index=s.index, outcome=s.outcome, answer=s.answer))
    if metrics:
        m = compute_metrics(by_problem, majority=True)
        (path / "metrics.json").write_text(json.dumps({"task": task, "split": split, "model": model, **m.to_json()}))
    manifest = {"mode": mode, "task": task, "split": split, "model": model, "verifier": "planted", "verifier_version": "1",
                "samples": len(samples), "new_samples": len(samples), "resumed_samples": 0,
                "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:00:10+00:00"}
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path

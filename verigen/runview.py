"""A finished run directory, read back as typed records (for exports, reports, decontam).

Reads ``config.toml``, ``manifest.json``, ``problems.jsonl``, ``samples.jsonl`` (through
``RunDir.latest``, so the last verdict written for a sample wins) and ``metrics.json``.
Only the samples the run's config asks for are kept: problems listed in ``problems.jsonl``
and sample indexes below ``sampling.n``, exactly as ``finalize`` selects them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from verigen.config import RunConfig, build_config
from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.metrics import KMetric, Metrics
from verigen.records import SampleRecord
from verigen.rundir import CONFIG, SAMPLES, RunDir
from verigen.types import ChatMessage, JSONScalar, JSONValue, Role


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemRow:
    """One row of ``problems.jsonl``: what the model was asked, and the task's reference."""

    id: str
    task: str
    prompt: str
    messages: tuple[ChatMessage, ...]
    reference_json: str  # the task-owned reference, as JSON text (shown, never interpreted)
    metadata: Mapping[str, JSONScalar] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """Identity and timing of a run (from the config and ``manifest.json``)."""

    run_id: str  # sha256 of the resolved config.toml: stable across resumes of one run
    path: Path
    mode: str
    task: str
    split: str
    model: str
    verifier: str
    verifier_version: str
    started: str | None
    finished: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    info: RunInfo
    config: RunConfig
    problems: tuple[ProblemRow, ...]
    records: tuple[SampleRecord, ...]  # sorted by (problem_id, sample_index)
    metrics: Metrics | None  # metrics.json, parsed back into the engine's own record

    def prompts(self) -> dict[str, tuple[ChatMessage, ...]]:
        return {p.id: p.messages for p in self.problems}


def run_id_of(path: Path) -> str:
    cfg = path / CONFIG
    try:
        return hashlib.sha256(cfg.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise UsageError(f"{str(path)!r} is not a verigen run directory (no {CONFIG}: {exc.strerror})") from None


def load_run(path: Path, *, with_records: bool = True) -> RunView:
    """Read the run directory at ``path``; a missing or malformed file raises ``UsageError``."""
    if not path.is_dir():
        raise UsageError(f"run directory {str(path)!r} does not exist")
    run_id = run_id_of(path)
    config = build_config(file=path / CONFIG)
    manifest = _read_json_object(path / "manifest.json", required=False)
    problems = tuple(_problem_row(row, f"{path / 'problems.jsonl'}:{n}") for n, row in _rows(path / "problems.jsonl"))
    wanted = {p.id for p in problems}
    records: tuple[SampleRecord, ...] = ()
    if with_records:
        if not (path / SAMPLES).exists():
            raise UsageError(f"{str(path)!r} has no {SAMPLES}: nothing was sampled there")
        latest = RunDir(path, config).latest()
        n = config.sampling.n
        records = tuple(
            sorted(
                (r for r in latest.values() if r.sample.problem_id in wanted and r.sample.index < n),
                key=lambda r: r.key,
            )
        )
    metrics_raw = _read_json_object(path / "metrics.json", required=False)
    info = RunInfo(
        run_id=run_id,
        path=path,
        mode=config.mode,
        task=_str(manifest.get("task")) or config.task.name,
        split=_str(manifest.get("split")) or (config.task.split or ""),
        model=_str(manifest.get("model")) or (records[0].sample.model if records else config.model.name),
        verifier=_str(manifest.get("verifier")) or (records[0].verdict.verifier if records else ""),
        verifier_version=_str(manifest.get("verifier_version")) or (records[0].verdict.verifier_version if records else ""),
        started=_str(manifest.get("started")),
        finished=_str(manifest.get("finished")),
    )
    metrics = _metrics(metrics_raw, path / "metrics.json") if metrics_raw else None
    return RunView(info=info, config=config, problems=problems, records=records, metrics=metrics)


def _rows(path: Path) -> list[tuple[int, dict[str, JSONValue]]]:
    if not path.exists():
        raise UsageError(f"{str(path.parent)!r} has no {path.name}: not a finished verigen run")
    return list(read_jsonl(path))


def _read_json_object(path: Path, *, required: bool) -> dict[str, JSONValue]:
    if not path.exists():
        if required:
            raise UsageError(f"{str(path)!r} is missing")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{str(path)!r}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{str(path)!r}: expected a JSON object")
    return data


def _str(v: JSONValue | None) -> str | None:
    return None if v is None else str(v)


def _problem_row(row: dict[str, JSONValue], where: str) -> ProblemRow:
    pid, prompt, raw_msgs = row.get("id"), row.get("prompt"), row.get("messages")
    if not isinstance(pid, str) or not isinstance(prompt, str):
        raise UsageError(f"{where}: problem row needs string 'id' and 'prompt'")
    messages: list[ChatMessage] = []
    for m in raw_msgs if isinstance(raw_msgs, list) else [{"role": "user", "content": prompt}]:
        role = m.get("role") if isinstance(m, dict) else None
        content = m.get("content") if isinstance(m, dict) else None
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise UsageError(f"{where}: bad chat message {m!r} (role system|user|assistant, string content)")
        messages.append(ChatMessage(role=cast(Role, role), content=content))
    meta = row.get("metadata")
    metadata = {str(k): v for k, v in meta.items() if not isinstance(v, (list, dict))} if isinstance(meta, dict) else {}
    return ProblemRow(
        id=pid,
        task=str(row.get("task") or ""),
        prompt=prompt,
        messages=tuple(messages),
        reference_json=json.dumps(row.get("reference"), ensure_ascii=False),
        metadata=metadata,
    )


def _metrics(raw: dict[str, JSONValue], where: Path) -> Metrics:
    def curve(key: str) -> tuple[KMetric, ...]:
        table = raw.get(key)
        if not isinstance(table, dict):
            return ()
        points = []
        for k, v in table.items():
            if not isinstance(v, dict):
                raise UsageError(f"{where}: {key}[{k}] is not an object")
            ci = v.get("ci95")
            value = v.get("value")
            points.append(
                KMetric(
                    k=int(k),
                    value=float(value) if isinstance(value, (int, float)) else None,
                    problems=int(v.get("problems") or 0),  # type: ignore[arg-type]
                    missing=int(v.get("missing") or 0),  # type: ignore[arg-type]
                    ci95=(float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None,  # type: ignore[arg-type]
                )
            )
        return tuple(sorted(points, key=lambda p: p.k))

    outcomes = raw.get("outcomes")
    try:
        return Metrics(
            problems=int(raw.get("problems") or 0),  # type: ignore[arg-type]
            samples=int(raw.get("samples") or 0),  # type: ignore[arg-type]
            outcomes={str(k): int(v) for k, v in outcomes.items()} if isinstance(outcomes, dict) else {},  # type: ignore[arg-type]
            error_rate=float(raw.get("error_rate") or 0.0),  # type: ignore[arg-type]
            accepted_problems=int(raw.get("accepted_problems") or 0),  # type: ignore[arg-type]
            pass_at=curve("pass@k"),
            maj_at=curve("maj@k"),
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: malformed metrics ({exc})") from None

"""Figures a report shows that metrics.json does not hold: pass-rate spread, time, rates."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from verigen.runview import RunView
from verigen.types import JSONValue, Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    wall_s: float | None  # the last invocation (manifest started -> finished)
    generation_s: float  # sum of per-sample sampler time (latency_s)
    new_samples: int | None  # sampled and verified by that invocation
    sampled: int  # samples with a recorded sampler time (generation_s covers these)
    completion_tokens: int
    problems: int

    def rates(self) -> dict[str, float | None]:
        """problems/s, samples/s and verifications/s end to end (the last invocation's new
        samples over its wall time); tokens/s and samples/s of the sampler alone."""
        def per(x: float | None, t: float | None) -> float | None:
            return None if x is None or not t else x / t

        new = self.new_samples
        problems = None if new is None or self.wall_s is None else self.problems * (new > 0)
        return {
            "problems/s (end to end)": per(problems, self.wall_s),
            "samples/s (end to end)": per(new, self.wall_s),
            "verifications/s (end to end)": per(new, self.wall_s),
            "samples/s (sampler)": per(self.sampled, self.generation_s),
            "tokens/s (sampler)": per(self.completion_tokens, self.generation_s),
        }

    def split(self) -> dict[str, float]:
        """Wall time split into generation and what verification (and the rest) added on top."""
        if self.wall_s is None:
            return {}
        gen = min(self.generation_s, self.wall_s)
        return {"generation": gen, "verification and other (not overlapped)": max(0.0, self.wall_s - gen)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionCurve:
    strategy: str
    at_k: tuple[tuple[int, float | None], ...]  # (k, best-of-n@k), k ascending


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """``selection.json`` (``evaluate --select``) as the report shows it."""

    curves: tuple[SelectionCurve, ...]
    scorer: str | None = None
    rm_model: str | None = None
    judge_model: str | None = None
    judge_accuracy: float | None = None
    judge_auc: float | None = None
    judge_unparseable: str | None = None  # "u/n" judgements


def _opt_float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_selection(view: RunView) -> Selection | None:
    """The run's ``selection.json``, or None when there is none (or it is unreadable: the
    report then leaves the section out rather than fail)."""
    path = view.info.path / "selection.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    raw = data.get("best_of_n@k") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return None
    curves = []
    for strategy, points in raw.items():
        if not isinstance(points, dict):
            continue
        at_k = sorted((int(k), _opt_float(v)) for k, v in points.items() if str(k).isdigit())
        curves.append(SelectionCurve(strategy=str(strategy), at_k=tuple(at_k)))
    judge = data.get("judge")
    agree = judge.get("agreement") if isinstance(judge, dict) else None
    agree = agree if isinstance(agree, dict) else {}
    bad, total = agree.get("unparseable_judgements"), agree.get("judgements")
    return Selection(
        curves=tuple(curves), scorer=_opt_str(data.get("scorer")), rm_model=_opt_str(data.get("rm_model")),
        judge_model=_opt_str(judge.get("model")) if isinstance(judge, dict) else None,
        judge_accuracy=_opt_float(agree.get("accuracy")), judge_auc=_opt_float(agree.get("auc")),
        judge_unparseable=f"{bad}/{total}" if isinstance(bad, int) and isinstance(total, int) else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStats:
    view: RunView
    outcomes: dict[str, int]
    pass_rates: tuple[float, ...]  # per problem with a usable sample: accepted / non-error
    timing: Timing
    exports: dict[str, JSONValue]  # manifest "exports" (rows, dedup counts, decontamination)
    selection: Selection | None = None  # selection.json, when `evaluate --select` wrote one


def _seconds(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds())
    except ValueError:
        return None


def _manifest(view: RunView) -> dict[str, JSONValue]:
    path = view.info.path / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def run_stats(view: RunView) -> RunStats:
    outcomes: Counter[str] = Counter({o.value: 0 for o in Outcome})
    usable: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    gen = 0.0
    tokens = 0
    new_from_latency = 0
    for r in view.records:
        outcomes[r.verdict.outcome.value] += 1
        if r.verdict.outcome is not Outcome.ERROR:
            usable[r.sample.problem_id] += 1
            accepted[r.sample.problem_id] += r.verdict.outcome is Outcome.ACCEPTED
        gen += r.sample.latency_s or 0.0
        tokens += r.sample.completion_tokens or 0
        new_from_latency += r.sample.latency_s is not None
    manifest = _manifest(view)
    new = manifest.get("new_samples")
    exports = manifest.get("exports")
    timing = Timing(
        wall_s=_seconds(view.info.started, view.info.finished),
        generation_s=gen,
        new_samples=int(new) if isinstance(new, int) else None,
        sampled=new_from_latency,
        completion_tokens=tokens,
        problems=len(view.problems),
    )
    return RunStats(
        view=view,
        outcomes=dict(outcomes),
        pass_rates=tuple(accepted[p] / usable[p] for p in sorted(usable)),
        timing=timing,
        exports=exports if isinstance(exports, dict) else {},
        selection=read_selection(view),
    )

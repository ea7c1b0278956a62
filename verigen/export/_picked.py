"""``generate --select STRATEGY``: each problem's chosen sample kept as training data, for
tasks where no verifier (or not only the verifier) should decide what is trained on.

The pick of a problem among its usable samples (ERROR excluded, as everywhere):

- ``oracle``: the first ACCEPTED sample (what sft.jsonl holds, one per problem);
- ``majority``: the first sample whose extracted answer is the most frequent one (ties to the
  answer seen first); none when no sample has an answer;
- ``likelihood`` / ``rm``: the highest score (ties to the lowest sample index); none when no
  sample has a score;
- ``judge``: the highest LLM-judge score (``verigen.judge``, ties to the lowest sample
  index), kept only when it reaches the judge's threshold (default 3 of 5): a response the
  judge itself rates poorly is not training data. Unparseable judgements give no score;
  every judgement goes to ``judge.jsonl``.

``selected.jsonl`` holds one SFT row per pick (``{"messages": [...prompt, assistant]}``, what
``verigen train`` reads) with its ``provenance`` (the verdict included, so a user sees what
the verifier, if any, said) and ``selection`` (strategy, score).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from verigen.errors import UsageError
from verigen.export._rows import sft_row
from verigen.records import SampleRecord
from verigen.rundir import write_jsonl_atomic
from verigen.runview import RunView
from verigen.types import JSONValue, Outcome

if TYPE_CHECKING:
    from verigen.select import JudgeSetup

SELECTED_FILE = "selected.jsonl"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pick:
    record: SampleRecord
    strategy: str
    score: float | None  # the strategy's score of the pick (oracle: 1.0; majority: its votes)


def pick_samples(run: RunView, strategy: str, *, scorer_model: str | None = None, rm_model: str | None = None,
                 device: str = "cpu", judge: JudgeSetup | None = None) -> list[Pick]:
    """The chosen sample of every problem that has one, in problem order. ``judge``: the
    open judge of the ``judge`` strategy."""
    groups: dict[str, list[SampleRecord]] = {}
    for rec in run.records:
        if rec.verdict.outcome is not Outcome.ERROR:
            groups.setdefault(rec.sample.problem_id, []).append(rec)
    for recs in groups.values():
        recs.sort(key=lambda r: r.sample.index)
    if strategy in ("likelihood", "rm"):
        scores = _model_scores(run, groups, strategy, scorer_model=scorer_model, rm_model=rm_model, device=device)
    elif strategy == "judge":
        scores = _judge_scores(run, groups, judge)
    picks = []
    for pid in sorted(groups):
        recs = groups[pid]
        if strategy == "oracle":
            pick = next((Pick(record=r, strategy=strategy, score=1.0) for r in recs
                         if r.verdict.outcome is Outcome.ACCEPTED), None)
        elif strategy == "majority":
            pick = _majority(recs)
        elif strategy in ("likelihood", "rm"):
            pick = _best(recs, scores[pid], strategy)
        elif strategy == "judge" and judge is not None:
            pick = _best(recs, scores[pid], strategy)
            if pick is not None and (pick.score is None or pick.score < judge.config.threshold):
                pick = None
        else:
            raise UsageError(f"unknown --select strategy {strategy!r} for generate")
        if pick is not None:
            picks.append(pick)
    return picks


def _majority(recs: Sequence[SampleRecord]) -> Pick | None:
    answers = [r.verdict.answer for r in recs if r.verdict.answer is not None]
    if not answers:
        return None
    counts = Counter(answers)
    top = max(counts.values())
    winner = next(a for a in answers if counts[a] == top)  # ties to the answer seen first
    rec = next(r for r in recs if r.verdict.answer == winner)
    return Pick(record=rec, strategy="majority", score=float(top))


def _best(recs: Sequence[SampleRecord], scores: Sequence[float | None], strategy: str) -> Pick | None:
    scored = [(s, -i) for i, s in enumerate(scores) if s is not None]
    if not scored:
        return None
    s, neg = max(scored)
    return Pick(record=recs[-neg], strategy=strategy, score=s)


def _model_scores(run: RunView, groups: dict[str, list[SampleRecord]], strategy: str, *, scorer_model: str | None,
                  rm_model: str | None, device: str) -> dict[str, list[float | None]]:
    prompts = run.prompts()
    pairs = [(prompts.get(pid, ()), r.sample.text) for pid in sorted(groups) for r in groups[pid]]
    if strategy == "likelihood":
        if not scorer_model:
            raise UsageError("--select likelihood needs --scorer-model (a causal LM: 'default', a folder or hub id)")
        from verigen.select import likelihood_scores

        flat = iter(likelihood_scores(scorer_model, pairs, device=device))
    else:
        model = rm_model or scorer_model
        if not model:
            raise UsageError("--select rm needs --rm-model (a `verigen train-rm` output folder)")
        from verigen.train import reward_scores

        flat = iter(reward_scores(model, pairs, device=device))
    return {pid: [next(flat) for _ in groups[pid]] for pid in sorted(groups)}


def _judge_scores(run: RunView, groups: dict[str, list[SampleRecord]],
                  judge: JudgeSetup | None) -> dict[str, list[float | None]]:
    if judge is None:
        raise UsageError("--select judge needs a judge model (the run's own model unless --judge-model)")
    from verigen.select import judge_scores

    by_problem = {pid: [(r.sample.index, r.verdict.outcome is Outcome.ACCEPTED, r.verdict.answer, r.sample.text)
                        for r in groups[pid]] for pid in sorted(groups)}
    scores, _ = judge_scores(run, by_problem, judge)
    return scores


def write_picks(run: RunView, picks: Sequence[Pick], path: Path | None = None) -> Path:
    """``selected.jsonl`` in the run directory (or ``path``); returns where it went."""
    from verigen.runview import run_id_of

    target = path or run.info.path / SELECTED_FILE
    prompts = run.prompts()
    run_id = run_id_of(run.info.path)
    rows: list[dict[str, JSONValue]] = []
    for p in picks:
        row = sft_row(p.record, prompts[p.record.sample.problem_id], run_id)
        row["selection"] = {"strategy": p.strategy, "score": p.score}
        rows.append(row)
    write_jsonl_atomic(target, rows)
    return target

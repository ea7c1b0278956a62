"""Best-of-N selection over one sample pool: which of a problem's samples to pick, and how
often the pick is right (best-of-n@k).

Strategies:

- ``oracle``: the verifier's verdict (pick an ACCEPTED sample when there is one): the upper
  bound of any selector; its best-of-n@k is pass@k;
- ``majority``: the most frequent extracted answer (ties to the first seen); its
  best-of-n@k is maj@k (``verigen.metrics.maj_at_k``);
- ``likelihood``: the highest mean token log-probability of the response under a scoring
  model (transformers causal LM; the prompt is the run's chat prompt);
- ``judge``: the highest LLM-judge score (``verigen.judge``: the additive 5-point rubric of
  Self-Rewarding Language Models); unparseable judgements give no score (ranked last, never
  0). The judge's agreement with the verifier (accuracy of score >= threshold, AUC, counts
  of unparseable judgements) goes into ``selection.json`` beside the curves, and every
  judgement into ``judge.jsonl``.
- ``rm``: the highest reward-model score of (prompt, response), a transformers
  sequence-classification model with one output (``verigen train-rm``), on the same
  tokens it was trained on (verigen/train/_rm_score.py).

best-of-n@k is the expected correctness of the pick among k samples drawn without
replacement from the problem's n usable samples (ERROR samples excluded, as in pass@k).
For a per-sample score it is exact: the sample ranked j-th of n (score descending, ties
by sample index) is the pick of a k-subset iff it is in it and no better one is, so
best-of-n@k = sum_j correct_j * C(n-1-j, k-1) / C(n, k). Samples without a score rank last.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.judge import JudgeAgreement, JudgeConfig, JudgeItem, agreement, judge_responses
from verigen.metrics import ScoredItem, headline_ks, maj_at_k
from verigen.runview import RunView
from verigen.sampling.base import Sampler
from verigen.types import ChatMessage, JSONValue, Outcome

__all__ = ["JUDGE_FILE", "STRATEGIES", "JudgeSetup", "SelectionReport", "StrategyCurve", "best_of_n_at_k",
           "judge_scores", "likelihood_scores", "parse_strategies", "rm_spec", "select_run"]

STRATEGIES = ("oracle", "majority", "likelihood", "judge", "rm")
SELECTION_FILE = "selection.json"
JUDGE_FILE = "judge.jsonl"


def parse_strategies(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in STRATEGIES]
    if bad or not names:
        raise UsageError(f"unknown --select strategy {bad[0] if bad else text!r} (known: {', '.join(STRATEGIES)})")
    return names


def best_of_n_at_k(correct: Sequence[bool], scores: Sequence[float | None], k: int) -> float:
    """Expected correctness of the highest-scored sample of a random k-subset (exact)."""
    n = len(correct)
    if len(scores) != n or not 1 <= k <= n:
        raise ValueError(f"best_of_n_at_k needs len(scores) == n and 1 <= k <= n, got n={n} k={k}")
    order = sorted(range(n), key=lambda i: (scores[i] is None, -(scores[i] or 0.0), i))
    total = math.comb(n, k)
    return math.fsum(math.comb(n - 1 - j, k - 1) for j, i in enumerate(order) if correct[i]) / total


def likelihood_scores(model: str, pairs: Sequence[tuple[Sequence[ChatMessage], str]], *, device: str = "cpu",
                      batch_size: int = 4) -> list[float | None]:
    """Mean token log-probability of each response given its chat prompt under ``model``
    (a local folder, hub id or ``default``); None for an empty response."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from verigen.sampling.model_store import materialize, resolve_model

    path = materialize(resolve_model(model)) if model == "default" else model
    tok = AutoTokenizer.from_pretrained(path)
    lm = AutoModelForCausalLM.from_pretrained(path).to(device).eval()  # type: ignore[arg-type]
    out: list[float | None] = []
    for start in range(0, len(pairs), batch_size):
        for messages, response in pairs[start : start + batch_size]:
            prompt_ids = _prompt_ids(tok, messages)
            response_ids = tok(response, add_special_tokens=False)["input_ids"]
            if not response_ids:
                out.append(None)
                continue
            ids = torch.tensor([prompt_ids + response_ids], device=device)
            with torch.no_grad():
                logits = lm(ids).logits[0, len(prompt_ids) - 1 : -1]
            logp = torch.log_softmax(logits.float(), dim=-1)
            picked = logp.gather(1, torch.tensor(response_ids, device=device).unsqueeze(1))
            out.append(float(picked.mean()))
    return out


def _prompt_ids(tok: Any, messages: Sequence[ChatMessage]) -> list[int]:
    chat = [m.to_json() for m in messages]
    if getattr(tok, "chat_template", None):
        ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, Mapping) else ids
        return [int(i) for i in ids]
    text = "\n\n".join(m.content for m in messages) + "\n"
    ids = tok(text)["input_ids"]
    return [int(i) for i in ids] or [int(tok.bos_token_id or 0)]


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyCurve:
    strategy: str
    at_k: Mapping[int, float | None]  # mean over the problems with >= k usable samples
    problems: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeSetup:
    """The judge of ``--select judge``: an open sampler (closed by its owner) and its settings."""

    sampler: Sampler
    config: JudgeConfig = field(default_factory=JudgeConfig)


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionReport:
    curves: tuple[StrategyCurve, ...]
    scorer: str | None
    judge_model: str | None = None
    judge_config: JudgeConfig | None = None
    judge_agreement: JudgeAgreement | None = None
    rm_model: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        data: dict[str, JSONValue] = {"scorer": self.scorer, "rm_model": self.rm_model, "best_of_n@k": {
            c.strategy: {str(k): v for k, v in c.at_k.items()} for c in self.curves}}
        if self.judge_agreement is not None and self.judge_config is not None:
            data["judge"] = {"model": self.judge_model, "config": self.judge_config.to_json(),
                             "agreement": self.judge_agreement.to_json(), "judgements": JUDGE_FILE}
        return data


def rm_spec(strategies: Sequence[str], scorer_model: str | None, rm_model: str | None) -> str | None:
    """The reward model of ``--select rm``: ``--rm-model``, or ``--scorer-model`` when no
    likelihood scorer claims it; a missing one is a ``UsageError``."""
    if "rm" not in strategies:
        if rm_model is not None:
            raise UsageError("--rm-model is only used with --select rm")
        return None
    if rm_model is not None:
        if scorer_model is not None and "likelihood" not in strategies:
            raise UsageError("--scorer-model is unused: --select rm takes its model from --rm-model")
        return rm_model
    if "likelihood" in strategies:
        raise UsageError("--select likelihood,rm needs --rm-model for the reward model "
                         "(--scorer-model is the causal LM of likelihood)")
    if not scorer_model:
        raise UsageError("--select rm needs --rm-model (a `verigen train-rm` output folder)")
    return scorer_model


def select_run(run: RunView, strategies: Sequence[str], *, scorer_model: str | None = None,
               rm_model: str | None = None, device: str = "cpu", judge: JudgeSetup | None = None) -> SelectionReport:
    """best-of-n@k of each strategy over the run's sample pool; written to ``selection.json``.

    ``rm_model``: the reward model of ``rm`` (else ``scorer_model`` when ``likelihood`` is
    not selected)."""
    if "likelihood" in strategies and not scorer_model:
        raise UsageError("--select likelihood needs --scorer-model (a causal LM: 'default', a folder or hub id)")
    if "judge" in strategies and judge is None:
        raise UsageError("--select judge needs a judge model (the run's own model unless --judge-model)")
    rm = rm_spec(strategies, scorer_model, rm_model)
    if rm is not None:
        from verigen.train import resolve_reward_model

        resolve_reward_model(rm, option="--rm-model" if rm_model else "--scorer-model")
    by_problem: dict[str, list[tuple[int, bool, str | None, str]]] = {}
    for rec in run.records:
        if rec.verdict.outcome is Outcome.ERROR:
            continue
        by_problem.setdefault(rec.sample.problem_id, []).append(
            (rec.sample.index, rec.verdict.outcome is Outcome.ACCEPTED, rec.verdict.answer, rec.sample.text))
    if not by_problem:
        raise UsageError(f"run {str(run.info.path)!r} has no usable samples to select from")
    max_n = max(len(v) for v in by_problem.values())
    ks = headline_ks(max_n)
    scores: dict[str, dict[str, list[float | None]]] = {}
    prompts = run.prompts()
    pairs = [(prompts.get(pid, ()), text) for pid, rows in by_problem.items() for _, _, _, text in rows]
    for strategy, model in (("likelihood", scorer_model if "likelihood" in strategies else None), ("rm", rm)):
        if model is None:
            continue
        if strategy == "likelihood":
            flat = iter(likelihood_scores(model, pairs, device=device))
        else:
            from verigen.train import reward_scores

            flat = iter(reward_scores(model, pairs, device=device))
        scores[strategy] = {pid: [next(flat) for _ in rows] for pid, rows in by_problem.items()}
    judged: dict[str, list[float | None]] = {}
    agreed: JudgeAgreement | None = None
    if "judge" in strategies and judge is not None:
        judged, agreed = judge_scores(run, by_problem, judge)
    curves = []
    for strategy in strategies:
        at_k: dict[int, float | None] = {}
        for k in ks:
            table = {"judge": judged}.get(strategy, scores.get(strategy, {}))
            values = [_value(strategy, pid, rows, table.get(pid), k) for pid, rows in by_problem.items() if len(rows) >= k]
            usable = [v for v in values if v is not None]
            at_k[k] = math.fsum(usable) / len(values) if usable else None
        curves.append(StrategyCurve(strategy=strategy, at_k=at_k, problems=len(by_problem)))
    report = SelectionReport(curves=tuple(curves), scorer=scorer_model, rm_model=rm,
                             judge_model=judge.sampler.model_id if judge and agreed else None,
                             judge_config=judge.config if judge and agreed else None, judge_agreement=agreed)
    _write(run.info.path / SELECTION_FILE, report)
    return report


def judge_scores(run: RunView, by_problem: Mapping[str, list[tuple[int, bool, str | None, str]]],
                 judge: JudgeSetup) -> tuple[dict[str, list[float | None]], JudgeAgreement]:
    """Judge scores per problem (in pool order: ``by_problem`` rows are (sample index,
    accepted, answer, text)) and the judge's agreement with the verdicts; every judgement
    goes to ``judge.jsonl`` in the run directory."""
    instructions = {p.id: p.prompt for p in run.problems}
    items = [JudgeItem(key=pid, index=i, instruction=instructions.get(pid, ""), response=text)
             for pid, rows in by_problem.items() for i, _, _, text in rows]
    flat = judge_responses(judge.sampler, items, judge.config)
    correct = [ok for rows in by_problem.values() for _, ok, _, _ in rows]
    it = iter(flat)
    per_problem = {pid: [next(it).score for _ in rows] for pid, rows in by_problem.items()}
    lines = [json.dumps({"problem_id": s.key, "sample_index": s.index, "score": s.score, "accepted": ok,
                         "judgements": [j.to_json() for j in s.judgements]}, ensure_ascii=False)
             for s, ok in zip(flat, correct, strict=True)]
    path = run.info.path / JUDGE_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    return per_problem, agreement(flat, correct, threshold=judge.config.threshold)


def _value(strategy: str, pid: str, rows: list[tuple[int, bool, str | None, str]], scores: list[float | None] | None,
           k: int) -> float | None:
    correct = [ok for _, ok, _, _ in rows]
    if strategy == "oracle":
        return best_of_n_at_k(correct, [1.0 if ok else 0.0 for ok in correct], k)
    if strategy == "majority":
        items = [ScoredItem(index=i, outcome=Outcome.ACCEPTED if ok else Outcome.REJECTED, answer=a) for i, ok, a, _ in rows]
        vote = maj_at_k(items, k, seed=f"{pid}:{k}")
        return 0.0 if vote is None else vote  # no extracted answer = a wrong vote, as in maj@k
    return best_of_n_at_k(correct, scores or [None] * len(rows), k)


def _write(path: Path, report: SelectionReport) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)

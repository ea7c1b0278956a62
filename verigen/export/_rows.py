"""Row shapes: TRL's conversational SFT, preference (DPO) and reward-model formats.

- ``sft``: ``{"messages": [...prompt, assistant]}`` (TRL conversational language modelling).
- ``dpo``: ``{"prompt": [...], "chosen": [assistant], "rejected": [assistant]}`` (TRL
  conversational preference with an explicit prompt).
- ``rm``: ``{"chosen": [...prompt, assistant], "rejected": [...prompt, assistant]}`` (TRL
  conversational preference with an implicit prompt, what ``RewardTrainer`` reads).
- ``rm_ranked``: one row per problem, ``prompt`` and every kept ``completions`` with
  ``labels`` (1.0 accepted, 0.0 rejected), accepted first.

Every row carries ``provenance`` (``chosen_provenance`` / ``rejected_provenance`` for pairs).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from verigen.config import PairsConfig
from verigen.records import SampleRecord
from verigen.types import ChatMessage, JSONValue


def provenance(rec: SampleRecord, run_id: str) -> dict[str, JSONValue]:
    s, v = rec.sample, rec.verdict
    return {
        "task": rec.task,
        "problem_id": s.problem_id,
        "sample_index": s.index,
        "model": s.model,
        "params": s.params.to_json(),
        "seed": s.params.seed,
        "verifier": v.verifier,
        "verifier_version": v.verifier_version,
        "outcome": v.outcome.value,
        "answer": v.answer,
        "detail": v.detail,
        "run_id": run_id,
    }


def _msgs(messages: Sequence[ChatMessage]) -> list[JSONValue]:
    return [dict(m.to_json()) for m in messages]


def _assistant(rec: SampleRecord) -> dict[str, JSONValue]:
    return {"role": "assistant", "content": rec.sample.text}


def sft_row(rec: SampleRecord, prompt: Sequence[ChatMessage], run_id: str = "") -> dict[str, JSONValue]:
    return {"messages": [*_msgs(prompt), _assistant(rec)], "provenance": provenance(rec, run_id)}


def dpo_row(chosen: SampleRecord, rejected: SampleRecord, prompt: Sequence[ChatMessage], run_id: str) -> dict[str, JSONValue]:
    return {
        "prompt": _msgs(prompt),
        "chosen": [_assistant(chosen)],
        "rejected": [_assistant(rejected)],
        "chosen_provenance": provenance(chosen, run_id),
        "rejected_provenance": provenance(rejected, run_id),
    }


def rm_row(chosen: SampleRecord, rejected: SampleRecord, prompt: Sequence[ChatMessage], run_id: str) -> dict[str, JSONValue]:
    return {
        "chosen": [*_msgs(prompt), _assistant(chosen)],
        "rejected": [*_msgs(prompt), _assistant(rejected)],
        "chosen_provenance": provenance(chosen, run_id),
        "rejected_provenance": provenance(rejected, run_id),
    }


def ranked_row(
    accepted: Sequence[SampleRecord], negatives: Sequence[SampleRecord], prompt: Sequence[ChatMessage], run_id: str
) -> dict[str, JSONValue]:
    ordered = [*accepted, *negatives]
    labels: list[JSONValue] = [1.0 if i < len(accepted) else 0.0 for i in range(len(ordered))]
    return {
        "prompt": _msgs(prompt),
        "completions": [[_assistant(r)] for r in ordered],
        "labels": labels,
        "provenance": [provenance(r, run_id) for r in ordered],
    }


def pairs(
    problem_id: str, chosen: Sequence[SampleRecord], rejected: Sequence[SampleRecord], cfg: PairsConfig
) -> list[tuple[SampleRecord, SampleRecord]]:
    """(chosen, rejected) pairs of one problem, per ``cfg.pairing``, at most ``cfg.max_per_problem``.

    - ``all``: every combination (a seeded sample of them when capped);
    - ``one_per_problem``: one seeded pair;
    - ``balanced``: max(|chosen|, |rejected|) distinct pairs in which every sample is used
      as evenly as possible (the larger side once each, the smaller side cycled).
    Deterministic: a pure function of (seed, problem id, the two lists).
    """
    if not chosen or not rejected:
        return []
    rng = random.Random(f"pairs:{cfg.seed}:{problem_id}")
    cap = cfg.max_per_problem
    if cfg.pairing == "all":
        everything = [(c, r) for c in chosen for r in rejected]
        if cap is not None and len(everything) > cap:
            picked = sorted(rng.sample(range(len(everything)), cap))
            everything = [everything[i] for i in picked]
        return everything
    if cfg.pairing == "one_per_problem":
        return [(rng.choice(list(chosen)), rng.choice(list(rejected)))]
    cs, rs = list(chosen), list(rejected)
    rng.shuffle(cs)
    rng.shuffle(rs)
    m = max(len(cs), len(rs))
    if cap is not None:
        m = min(m, cap)
    # i < max(|C|, |R|) makes the index on the larger side unique, so the pairs are distinct.
    return [(cs[i % len(cs)], rs[i % len(rs)]) for i in range(m)]

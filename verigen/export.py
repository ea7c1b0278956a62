"""Exports: the SFT chat set (accepted samples only), each row with its provenance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from verigen.records import SampleRecord
from verigen.types import ChatMessage, JSONValue, Outcome


def select_accepted(
    records: Iterable[SampleRecord], *, max_per_problem: int | None, dedup: bool
) -> list[SampleRecord]:
    """ACCEPTED samples in (problem, index) order, deduplicated per problem, capped."""
    chosen: list[SampleRecord] = []
    seen: set[tuple[str, str]] = set()
    per_problem: dict[str, int] = {}
    for rec in sorted(records, key=lambda r: r.key):
        if rec.verdict.outcome is not Outcome.ACCEPTED:
            continue
        pid = rec.sample.problem_id
        norm = " ".join(rec.sample.text.split())
        if dedup and (pid, norm) in seen:
            continue
        if max_per_problem is not None and per_problem.get(pid, 0) >= max_per_problem:
            continue
        seen.add((pid, norm))
        per_problem[pid] = per_problem.get(pid, 0) + 1
        chosen.append(rec)
    return chosen


def sft_row(rec: SampleRecord, prompt: Sequence[ChatMessage]) -> dict[str, JSONValue]:
    messages: list[JSONValue] = [dict(m.to_json()) for m in prompt]
    messages.append({"role": "assistant", "content": rec.sample.text})
    return {
        "messages": messages,
        "provenance": {
            "task": rec.task,
            "problem_id": rec.sample.problem_id,
            "sample_index": rec.sample.index,
            "model": rec.sample.model,
            "params": rec.sample.params.to_json(),
            "verifier": rec.verdict.verifier,
            "verifier_version": rec.verdict.verifier_version,
            "outcome": rec.verdict.outcome.value,
            "answer": rec.verdict.answer,
        },
    }


def sft_rows(
    records: Iterable[SampleRecord],
    prompts: Mapping[str, Sequence[ChatMessage]],
    *,
    max_per_problem: int | None = None,
    dedup: bool = True,
) -> list[dict[str, JSONValue]]:
    return [
        sft_row(rec, prompts[rec.sample.problem_id])
        for rec in select_accepted(records, max_per_problem=max_per_problem, dedup=dedup)
        if rec.sample.problem_id in prompts
    ]

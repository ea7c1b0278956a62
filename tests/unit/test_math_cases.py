"""The labelled math table (tests/data/math_cases.jsonl): zero false accepts, <= 1% false rejects.

A row's label says what a careful grader concludes: ``accepted``, ``rejected`` (a wrong or
hedged answer) or ``no_answer`` (none stated). The bars treat the two non-accepts as one
class: a wrong answer the verifier reads as "no answer" is not accepted either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pytest

from verigen.types import Outcome
from verigen.verify.math import check

TABLE = Path(__file__).resolve().parents[1] / "data" / "math_cases.jsonl"
MAX_FALSE_REJECT_RATE = 0.01


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    line: int
    reference: str
    answer: str
    expected: Outcome
    note: str
    source: str


@lru_cache(maxsize=1)
def load_cases() -> tuple[Case, ...]:
    cases = []
    for line, text in enumerate(TABLE.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(text)
        cases.append(Case(line=line, reference=row["reference"], answer=row["answer"],
                          expected=Outcome(row["expected"]), note=row["note"],
                          source=row.get("source", "verigen")))
    return tuple(cases)


@cache
def outcome_of(case: Case) -> Outcome:
    return check(gold=case.reference, pred_text=case.answer).outcome


def test_table_is_large_and_labelled() -> None:
    cases = load_cases()
    assert len(cases) >= 1300
    sourced = [c for c in cases if c.source != "verigen"]
    assert len(sourced) >= 600, "rows from released outputs and graders' suites name their source"
    assert sum(c.note.startswith("real output") for c in sourced) >= 300
    assert {c.expected for c in cases} == {Outcome.ACCEPTED, Outcome.REJECTED, Outcome.NO_ANSWER}
    assert len({(c.reference, c.answer) for c in cases}) == len(cases), "duplicate rows"


@pytest.mark.parametrize("case", load_cases(), ids=lambda c: f"L{c.line}")
def test_no_false_accept_and_no_error(case: Case) -> None:
    got = outcome_of(case)
    assert got is not Outcome.ERROR, f"verifier error on {case}"
    if case.expected is not Outcome.ACCEPTED:
        assert got is not Outcome.ACCEPTED, f"false accept: {case}"


def test_false_reject_rate_within_bar() -> None:
    cases = load_cases()
    accepted = [c for c in cases if outcome_of(c) is Outcome.ACCEPTED]
    false_accepts = [c for c in accepted if c.expected is not Outcome.ACCEPTED]
    assert not false_accepts, "\n".join(map(str, false_accepts))
    offenders = [c for c in cases if c.expected is Outcome.ACCEPTED and outcome_of(c) is not Outcome.ACCEPTED]
    listing = "\n".join(f"L{c.line} expected {c.expected.value} got {outcome_of(c).value}: "
                        f"{c.reference!r} <- {c.answer[-80:]!r} ({c.note})" for c in offenders)
    assert len(offenders) <= MAX_FALSE_REJECT_RATE * len(cases), listing

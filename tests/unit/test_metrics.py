from __future__ import annotations

import math
from itertools import combinations

import pytest

from verigen.metrics import ScoredItem, compute_metrics, majority_correct, pass_at_k
from verigen.types import Outcome

A, R, E, N = Outcome.ACCEPTED, Outcome.REJECTED, Outcome.ERROR, Outcome.NO_ANSWER


def brute_pass_at_k(outcomes: list[bool], k: int) -> float:
    subsets = list(combinations(outcomes, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 0, 1), (5, 1, 1), (5, 2, 3), (6, 3, 6), (7, 7, 2), (10, 1, 9)])
def test_pass_at_k_matches_brute_force(n: int, c: int, k: int) -> None:
    outcomes = [True] * c + [False] * (n - c)
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(outcomes, k))


def test_pass_at_k_is_stable_for_large_n() -> None:
    value = pass_at_k(10_000, 3, 1000)
    exact = 1 - math.comb(9997, 1000) / math.comb(10_000, 1000)
    assert value == pytest.approx(exact, rel=1e-9)
    assert 0.0 <= pass_at_k(10_000, 0, 5000) <= 1e-12


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, 1, 4), (3, 1, 0), (3, -1, 1)])
def test_pass_at_k_rejects_bad_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def items(*outs: Outcome, answers: list[str | None] | None = None) -> list[ScoredItem]:
    answers = answers or [None] * len(outs)
    return [ScoredItem(index=i, outcome=o, answer=a) for i, (o, a) in enumerate(zip(outs, answers))]


def test_errors_are_excluded_from_n_and_counted() -> None:
    m = compute_metrics({"p": items(A, E, E, R)})
    assert m.outcomes["error"] == 2
    assert m.error_rate == 0.5
    # n = 2 (A, R): pass@1 = 0.5, pass@2 = 1; no pass@3 since errors are not samples
    assert [k.k for k in m.pass_at] == [1, 2]
    assert m.pass_at[0].value == pytest.approx(0.5)
    assert m.pass_at[1].value == pytest.approx(1.0)


def test_k_above_a_problems_n_is_reported_missing_not_dropped() -> None:
    m = compute_metrics({"big": items(R, R, R, A), "small": items(A)})
    p4 = m.pass_at[3]
    assert p4.k == 4 and p4.problems == 1 and p4.missing == 1
    assert p4.value == pytest.approx(1.0)
    assert m.pass_at[0].value == pytest.approx((0.25 + 1.0) / 2)
    assert "small" in m.missing_examples


def test_majority_vote() -> None:
    assert majority_correct(items(A, R, R, answers=["1", "2", "2"])) is False
    assert majority_correct(items(A, A, R, answers=["1", "1", "2"])) is True
    assert majority_correct(items(R, A, answers=["2", "1"])) is False  # tie: first seen wins
    assert majority_correct(items(N, N)) is None


def test_maj_at_k_absent_when_no_answers_are_extracted() -> None:
    m = compute_metrics({"p": items(A, R), "q": items(R, R)})
    assert all(k.value is None for k in m.maj_at)
    assert m.pass_at[0].value == pytest.approx(0.25)


def test_maj_at_k_can_be_left_out() -> None:
    m = compute_metrics({"p": items(A, R, answers=["x", "y"])}, majority=False)
    assert all(k.value is None for k in m.maj_at)
    assert m.pass_at[0].value == pytest.approx(0.5)


def test_maj_at_k_averages_over_subsets() -> None:
    from verigen.metrics import maj_at_k

    its = items(A, R, R, answers=["1", "2", "2"])
    assert maj_at_k(its, 1, seed="s") == pytest.approx(1 / 3)  # maj@1 is the accepted fraction
    assert maj_at_k(its, 2, seed="s") == pytest.approx(2 / 3)  # {0,1}, {0,2} tie to the first seen
    assert maj_at_k(its, 3, seed="s") == pytest.approx(0.0)
    m = compute_metrics({"p": its})
    assert m.maj_at[0].value == pytest.approx(m.pass_at[0].value)


def test_maj_at_k_samples_subsets_deterministically_for_large_n() -> None:
    from verigen.metrics import maj_at_k

    its = items(*([A] * 30 + [R] * 30), answers=["1"] * 30 + ["2"] * 30)
    a = maj_at_k(its, 5, seed="p:5")
    assert a == maj_at_k(its, 5, seed="p:5")
    assert a is not None and 0.2 < a < 0.8

"""pass@k (unbiased), maj@k (averaged over k-subsets) and outcome counts from a pool of verdicts.

Cost: pass@k for every k from 1 to n comes from one O(n) recurrence per problem; bootstrap
CIs and maj@k (the expensive part: k-subset votes) only at the headline ks (1, powers of
2, n), and maj@k only where the task votes. Every problem uses its own n: ERROR samples are excluded from n (and counted apart). A k
larger than some problem's n is never silently dropped: those problems are reported as
missing for that k, and the mean is over the problems that have at least k samples.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from verigen.types import Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredItem:
    """What metrics need of one sample: its index, outcome and extracted answer."""

    index: int
    outcome: Outcome
    answer: str | None = None


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator 1 - C(n-c, k) / C(n, k), as a stable product (Chen et al. 2021)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for j in range(n - c + 1, n + 1):
        prod *= 1.0 - k / j
    return 1.0 - prod


def majority_correct(items: Sequence[ScoredItem]) -> bool | None:
    """Whether the most frequent extracted answer among ``items`` is an accepted one.

    Ties go to the answer seen first. None when no item has an answer.
    """
    votes: dict[str, int] = {}  # insertion order = first seen
    accepted: set[str] = set()
    for item in items:
        answer = item.answer
        if answer is None or item.outcome is Outcome.ERROR:
            continue
        votes[answer] = votes.get(answer, 0) + 1
        if item.outcome is Outcome.ACCEPTED:
            accepted.add(answer)
    if not votes:
        return None
    return max(votes, key=votes.__getitem__) in accepted  # max keeps the first of equals


# maj@k averages the vote over k-subsets of a problem's samples: all of them when there
# are at most this many, else this many drawn with a seeded generator.
MAJ_SUBSETS = 64


def maj_at_k(items: Sequence[ScoredItem], k: int, *, seed: str) -> float | None:
    """The expected majority-vote correctness over k-subsets of ``items``.

    Like pass@k, this is an estimate of the k-sample quantity from all n samples (maj@1
    equals the accepted fraction), not the vote of the first k. None when no subset has
    an extracted answer.
    """
    n = len(items)
    if math.comb(n, k) <= MAJ_SUBSETS:
        subsets: list[tuple[int, ...]] = list(combinations(range(n), k))
    else:
        rng = random.Random(seed)
        subsets = [tuple(sorted(rng.sample(range(n), k))) for _ in range(MAJ_SUBSETS)]
    votes = [majority_correct([items[i] for i in subset]) for subset in subsets]
    if all(v is None for v in votes):
        return None
    return sum(1.0 for v in votes if v) / len(votes)


@dataclass(frozen=True, slots=True, kw_only=True)
class KMetric:
    k: int
    value: float | None  # mean over the problems that have >= k usable samples
    problems: int  # how many problems that mean covers
    missing: int  # problems with fewer than k usable samples
    ci95: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    problems: int
    samples: int
    outcomes: Mapping[str, int]
    error_rate: float
    pass_at: tuple[KMetric, ...]
    maj_at: tuple[KMetric, ...]
    accepted_problems: int  # problems with at least one accepted sample
    missing_examples: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        def km(m: KMetric) -> dict[str, object]:
            return {
                "value": m.value,
                "problems": m.problems,
                "missing": m.missing,
                "ci95": list(m.ci95) if m.ci95 else None,
            }

        return {
            "problems": self.problems,
            "samples": self.samples,
            "outcomes": dict(self.outcomes),
            "error_rate": self.error_rate,
            "accepted_problems": self.accepted_problems,
            "pass@k": {str(m.k): km(m) for m in self.pass_at},
            # maj@k is computed at the headline ks only (see compute_metrics)
            "maj@k": {str(m.k): km(m) for m in self.maj_at if m.k in set(headline_ks(len(self.maj_at)))},
            "missing_examples": list(self.missing_examples),
        }


def headline_ks(max_k: int) -> list[int]:
    """The ks worth a CI and a maj@k: 1, 2, 4, 8, ... up to ``max_k``, and ``max_k``."""
    ks = [1 << e for e in range(max_k.bit_length()) if 1 << e <= max_k]
    if max_k and max_k not in ks:
        ks.append(max_k)
    return ks


def pass_at_every_k(n: int, c: int) -> list[float]:
    """``[pass_at_k(n, c, k) for k in 1..n]`` in O(n).

    C(n-c, k) / C(n, k) = prod_{j<k} (n-c-j) / (n-j): each k extends the previous product
    by one factor in [0, 1], so the recurrence is as stable as ``pass_at_k``'s product.
    """
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_every_k needs 0 <= c <= n, got n={n} c={c}")
    out: list[float] = []
    ratio = 1.0
    for k in range(1, n + 1):
        ratio *= max(0, n - c - k + 1) / (n - k + 1)
        out.append(1.0 - ratio)
    return out


def _bootstrap_ci(values: Sequence[float], seed: int = 0, rounds: int = 1000) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    rng = random.Random(seed)
    n = len(values)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(rounds))
    return (means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1])


def compute_metrics(
    by_problem: Mapping[str, Sequence[ScoredItem]], *, majority: bool = True
) -> Metrics:
    """Metrics over ``problem_id -> its samples``; pass@k for every k up to the largest n.

    ``majority=False`` leaves maj@k out (code: programs are not votes on one answer).
    """
    counts: Counter[str] = Counter({o.value: 0 for o in Outcome})
    usable: dict[str, list[ScoredItem]] = {}
    for pid, items in by_problem.items():
        for item in items:
            counts[item.outcome.value] += 1
        usable[pid] = sorted((i for i in items if i.outcome is not Outcome.ERROR), key=lambda i: i.index)
    total = sum(counts.values())
    max_n = max((len(v) for v in usable.values()), default=0)
    curves = {
        pid: pass_at_every_k(len(items), sum(1 for i in items if i.outcome is Outcome.ACCEPTED))
        for pid, items in usable.items()
    }
    headline = set(headline_ks(max_n))
    missing_ids = {pid for pid, items in usable.items() if len(items) < max_n}
    pass_at: list[KMetric] = []
    maj_at: list[KMetric] = []
    for k in range(1, max_n + 1):
        covered = [pid for pid, items in usable.items() if len(items) >= k]
        missing = len(usable) - len(covered)
        pass_at.append(_k_metric(k, [curves[pid][k - 1] for pid in covered], missing, k in headline))
        maj_vals: list[float] = []
        if majority and k in headline:
            votes = [maj_at_k(usable[pid], k, seed=f"{pid}:{k}") for pid in covered]
            # maj@k exists only where answers are extracted; no answer = a wrong vote.
            if any(v is not None for v in votes):
                maj_vals = [v or 0.0 for v in votes]
        maj_at.append(_k_metric(k, maj_vals, missing, k in headline))
    return Metrics(
        problems=len(by_problem),
        samples=total,
        outcomes=dict(counts),
        error_rate=(counts[Outcome.ERROR.value] / total) if total else 0.0,
        pass_at=tuple(pass_at),
        maj_at=tuple(maj_at),
        accepted_problems=sum(
            1 for items in usable.values() if any(i.outcome is Outcome.ACCEPTED for i in items)
        ),
        missing_examples=tuple(sorted(missing_ids)[:20]),
    )


def _k_metric(k: int, values: list[float], missing: int, with_ci: bool) -> KMetric:
    if not values:
        return KMetric(k=k, value=None, problems=0, missing=missing)
    mean = math.fsum(values) / len(values)
    ci = _bootstrap_ci(values) if with_ci else None
    return KMetric(k=k, value=mean, problems=len(values), missing=missing, ci95=ci)

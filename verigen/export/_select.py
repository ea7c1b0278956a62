"""Which samples become rows: per problem, deduplicated (exact, then near), capped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verigen.config import NearDupConfig
from verigen.records import SampleRecord
from verigen.types import Outcome

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectOptions:
    exact: bool = True
    near: NearDupConfig | None = None  # None: no near-duplicate removal
    max_per_problem: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The kept records per problem (in sample-index order) and what was dropped why."""

    kept: dict[str, list[SampleRecord]]
    exact_duplicates: int
    near_duplicates: int
    capped: int

    def records(self) -> list[SampleRecord]:
        return [r for pid in sorted(self.kept) for r in self.kept[pid]]


def normalize(text: str) -> str:
    """Whitespace-collapsed text: the key of exact deduplication."""
    return " ".join(text.split())


def shingles(text: str, n: int) -> set[str]:
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def near_duplicates(texts: Sequence[str], cfg: NearDupConfig) -> list[bool]:
    """For each text, whether it is a near-duplicate of an earlier kept one.

    MinHash LSH (datasketch) proposes candidates; the exact Jaccard similarity of the word
    n-gram sets decides, so a MinHash estimation error never drops a distinct solution.
    """
    if len(texts) < 2:
        return [False] * len(texts)
    from datasketch import MinHash, MinHashLSH

    sets = [shingles(t, cfg.ngram) for t in texts]
    hashes = MinHash.bulk([[s.encode("utf-8") for s in sh] for sh in sets], num_perm=cfg.num_perm)
    # The LSH threshold sits below the decision threshold: a lower band threshold misses fewer
    # true pairs, and the exact check below removes the extra candidates.
    lsh = MinHashLSH(threshold=max(0.05, cfg.threshold - 0.15), num_perm=cfg.num_perm)
    dup = [False] * len(texts)
    for i, mh in enumerate(hashes):
        for j in lsh.query(mh):
            if jaccard(sets[i], sets[int(j)]) >= cfg.threshold:
                dup[i] = True
                break
        if not dup[i]:
            lsh.insert(str(i), mh)
    return dup


def select(records: Iterable[SampleRecord], outcomes: frozenset[Outcome], opts: SelectOptions) -> Selection:
    """Records with one of ``outcomes``, grouped per problem, deduplicated, then capped."""
    if Outcome.ERROR in outcomes:
        raise ValueError("ERROR samples are infrastructure faults: never training data")
    groups: dict[str, list[SampleRecord]] = {}
    for rec in sorted(records, key=lambda r: r.key):
        if rec.verdict.outcome in outcomes:
            groups.setdefault(rec.sample.problem_id, []).append(rec)
    exact = near = capped = 0
    kept: dict[str, list[SampleRecord]] = {}
    for pid, recs in groups.items():
        if opts.exact:
            seen: set[str] = set()
            unique = []
            for r in recs:
                key = normalize(r.sample.text)
                if key not in seen:
                    seen.add(key)
                    unique.append(r)
            exact += len(recs) - len(unique)
            recs = unique
        if opts.near is not None and opts.near.enabled:
            flags = near_duplicates([r.sample.text for r in recs], opts.near)
            near += sum(flags)
            recs = [r for r, d in zip(recs, flags) if not d]
        if opts.max_per_problem is not None and len(recs) > opts.max_per_problem:
            capped += len(recs) - opts.max_per_problem
            recs = recs[: opts.max_per_problem]
        kept[pid] = recs
    return Selection(kept=kept, exact_duplicates=exact, near_duplicates=near, capped=capped)

"""Decontamination: word n-gram overlap of problems and solutions with held-out benchmarks.

A problem whose prompt shares at least ``min_shared`` word n-grams (13 by default, as in
the GPT-3 paper) with one benchmark item is contaminated, with all its samples; a sample
whose completion does is dropped alone. Every hit keeps the benchmark item id, so what was
dropped can be inspected. Indexes are built once per benchmark file hash and cached under
``$XDG_CACHE_HOME/verigen/decontam``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from verigen.decontam._benchmarks import BENCHMARKS, Benchmark, locate, resolve, row_id, row_texts
from verigen.decontam._index import COMMON_ITEMS, INDEX_FORMAT, SHORT_MIN_WORDS, NgramIndex
from verigen.errors import UsageError
from verigen.types import JSONValue

__all__ = [
    "BENCHMARKS",
    "BenchmarkStatus",
    "Contamination",
    "DecontamOptions",
    "Hit",
    "NgramIndex",
    "check_heldout",
    "load_index",
    "row_id",
    "row_texts",
    "scan",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecontamOptions:
    against: tuple[str, ...]
    n: int = 13
    min_shared: int = 1
    data_dir: Path | None = None
    cache_dir: Path | None = None  # None: $XDG_CACHE_HOME/verigen/decontam
    strict: bool = False  # a named benchmark whose files are missing is an error, not a skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    benchmark: str
    item_id: str
    problem_id: str
    sample_index: int | None  # None: the problem itself (all its samples dropped)
    field: Literal["problem", "completion"]
    shared: int

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "benchmark": self.benchmark, "item_id": self.item_id, "problem_id": self.problem_id,
            "sample_index": self.sample_index, "field": self.field, "shared_ngrams": self.shared,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchmarkStatus:
    name: str
    status: Literal["checked", "skipped", "not applicable"]
    reason: str = ""
    items: int = 0
    sha256: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Contamination:
    n: int
    min_shared: int
    benchmarks: tuple[BenchmarkStatus, ...]
    hits: tuple[Hit, ...]

    @property
    def dropped_problems(self) -> frozenset[str]:
        return frozenset(h.problem_id for h in self.hits if h.sample_index is None)

    @property
    def dropped_samples(self) -> frozenset[tuple[str, int]]:
        return frozenset((h.problem_id, h.sample_index) for h in self.hits if h.sample_index is not None)

    def counts(self) -> dict[str, dict[str, int]]:
        out = {b.name: {"problems": 0, "samples": 0} for b in self.benchmarks if b.status == "checked"}
        for h in self.hits:
            out.setdefault(h.benchmark, {"problems": 0, "samples": 0})["problems" if h.sample_index is None else "samples"] += 1
        return out

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "ngram": self.n,
            "min_shared": self.min_shared,
            "benchmarks": [
                {"name": b.name, "status": b.status, "reason": b.reason, "items": b.items, "sha256": b.sha256}
                for b in self.benchmarks
            ],
            "counts": {k: dict[str, JSONValue](v) for k, v in self.counts().items()},
            "hits": len(self.hits),
        }


def check_heldout(task: str, split: str, against: Iterable[str], *, allow: bool) -> None:
    """Refuse a training run on a split that IS one of the held-out benchmarks."""
    if allow:
        return
    for name in against:
        bench = BENCHMARKS.get(name)
        if bench is not None and (task, split) in bench.heldout:
            raise UsageError(
                f"task {task!r} split {split!r} is the held-out benchmark {name!r}: training data from it "
                "would contaminate every evaluation on it. Generate from another split, or set "
                "output.decontam.allow_heldout=true (or drop it from output.decontam.against) if this is intended"
            )


def _cache_dir(opts: DecontamOptions) -> Path:
    if opts.cache_dir is not None:
        return opts.cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "verigen" / "decontam"


def _sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_index(bench: Benchmark, paths: Sequence[Path], opts: DecontamOptions) -> tuple[NgramIndex, str]:
    """The index of ``bench`` (from the cache when its files are unchanged) and their hash."""
    sha = _sha256(paths)
    key = f"{INDEX_FORMAT}-{SHORT_MIN_WORDS}-{COMMON_ITEMS}-n{opts.n}-{sha[:24]}"
    safe = "".join(c if c.isalnum() else "_" for c in bench.name)[-40:]
    cache = _cache_dir(opts) / f"{safe}-{key}.idx"
    index = NgramIndex.load(cache)
    if index is None or index.n != opts.n:
        index = NgramIndex.build(bench.read(paths), opts.n)
        try:
            index.save(cache)
        except OSError as exc:  # a read-only cache costs time, not correctness
            log.warning("could not cache the %s index at %s: %s", bench.name, cache, exc)
    return index, sha


def scan(
    problems: Iterable[tuple[str, str]],
    samples: Iterable[tuple[str, int, str]],
    opts: DecontamOptions,
    *,
    source: tuple[str, str] | None = None,
) -> Contamination:
    """Check ``problems`` (id, prompt) and ``samples`` (problem id, index, completion).

    ``source`` is the (task, split) the problems came from: a benchmark that split is drawn
    from by design is not applied to it (and says so in its status).
    """
    problems, samples = list(problems), list(samples)
    statuses: list[BenchmarkStatus] = []
    hits: list[Hit] = []
    for name in opts.against:
        bench = resolve(name)
        if source is not None and source in bench.drawn_from:
            statuses.append(BenchmarkStatus(
                name=name, status="not applicable",
                reason=f"task {source[0]!r} split {source[1]!r} is drawn from {name!r} by design"))
            continue
        paths = locate(bench, opts.data_dir)
        if paths is None:
            where = str(opts.data_dir) if opts.data_dir else "no --data-dir / VERIGEN_DATA_DIR"
            if opts.strict:
                raise UsageError(f"held-out benchmark {name!r}: files {', '.join(bench.files)} not found ({where})")
            log.warning("decontamination against %s skipped: files not found (%s)", name, where)
            statuses.append(BenchmarkStatus(name=name, status="skipped", reason=f"files not found ({where})"))
            continue
        index, sha = load_index(bench, paths, opts)
        statuses.append(BenchmarkStatus(name=name, status="checked", items=len(index.item_ids), sha256=sha))
        hits += _hits(index, name, problems, samples, opts.min_shared)
    return Contamination(n=opts.n, min_shared=opts.min_shared, benchmarks=tuple(statuses), hits=tuple(hits))


def _hits(
    index: NgramIndex, name: str, problems: Sequence[tuple[str, str]], samples: Sequence[tuple[str, int, str]], min_shared: int
) -> list[Hit]:
    out: list[Hit] = []
    for pid, text in problems:
        m = index.query(text, min_shared=min_shared)
        if m is not None:
            out.append(Hit(benchmark=name, item_id=index.item_ids[m.item], problem_id=pid, sample_index=None,
                           field="problem", shared=m.shared))
    for pid, idx, text in samples:
        m = index.query(text, min_shared=min_shared)
        if m is not None:
            out.append(Hit(benchmark=name, item_id=index.item_ids[m.item], problem_id=pid, sample_index=idx,
                           field="completion", shared=m.shared))
    return out

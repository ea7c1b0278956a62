"""Per-sample seeds: each sample's randomness is a pure function of
(sampling seed, problem id, sample index).

A resumed run and an uninterrupted one therefore draw the same samples, and the way the
engine or a backend groups samples into batches, chunks or HTTP requests never changes
what a sample is. Seeds are 31-bit non-negative integers, the range every backend takes
(vLLM and torch take 64 bits, llama.cpp 32 unsigned, some servers a signed 32-bit int).
Within one problem, two of n samples share a seed with probability about n^2 / 2^32
(4e-6 at n=128); a shared seed only repeats a sample, which dedup drops from exports.
"""

from __future__ import annotations

import hashlib

SEED_BITS = 31


def sample_seed(seed: int, problem_id: str, index: int) -> int:
    """The seed of sample ``index`` of problem ``problem_id`` under sampling seed ``seed``."""
    digest = hashlib.blake2b(f"{seed}\x00{problem_id}\x00{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SEED_BITS)

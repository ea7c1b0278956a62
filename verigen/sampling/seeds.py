"""Per-sample seeds: each sample's randomness is a pure function of
(sampling seed, problem id, sample index).

A resumed run and an uninterrupted one therefore draw the same samples, and the way the
engine or a backend groups samples into batches, chunks or HTTP requests never changes
what a sample is. ``sample_seed`` is a 30-bit base hashed from (seed, problem id) plus the
sample index: the n samples of a problem never share a seed, and a run of consecutive
indices i..j has consecutive seeds, which is exactly how vLLM seeds the children of one
``n=j-i+1`` request (see ``verigen.sampling.vllm``). Seeds stay below 2^31, a range every
backend takes (torch and vLLM take 64 bits, llama.cpp 32 unsigned, some servers int32).
"""

from __future__ import annotations

import hashlib

BASE_BITS = 30
MAX_INDEX = (1 << 30) - 1  # far above the largest n the config allows


def problem_seed(seed: int, problem_id: str) -> int:
    """The base seed of one problem's samples."""
    digest = hashlib.blake2b(f"{seed}\x00{problem_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - BASE_BITS)


def sample_seed(seed: int, problem_id: str, index: int) -> int:
    """The seed of sample ``index`` of problem ``problem_id`` under sampling seed ``seed``."""
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"sample index must be in [0, {MAX_INDEX}], got {index}")
    return problem_seed(seed, problem_id) + index

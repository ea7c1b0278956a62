"""The transformers sampler on a CUDA GPU (skips without one; CI sets no GPU requirement)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import skip_or_fail
from verigen.sampling.base import SampleRequest
from verigen.types import ChatMessage, SamplingParams

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

MSG = (ChatMessage(role="user", content="Write a short poem about the sea."),)


def test_transformers_on_cuda_draws_the_same_sample_whichever_batch_asks() -> None:
    if importlib.util.find_spec("torch") is None:
        skip_or_fail("gpu", "torch is not installed")
    import torch

    if not torch.cuda.is_available():
        skip_or_fail("gpu", "torch sees no CUDA GPU")
    from verigen.sampling.hf import TransformersOptions, TransformersSampler

    sampler = TransformersSampler("default", TransformersOptions(device="cuda", dtype="float32", batch_size=8))
    try:
        params = SamplingParams(n=6, temperature=1.0, max_tokens=24, seed=2)
        full = {o.index: o.completion.text for o in sampler.stream(
            [SampleRequest(problem_id="sea", messages=MSG, indices=tuple(range(6)))], params)}
        part = {o.index: o.completion.text for o in sampler.stream(
            [SampleRequest(problem_id="sea", messages=MSG, indices=(4, 5))], params)}
        assert part == {4: full[4], 5: full[5]} and len(set(full.values())) == 6
    finally:
        sampler.close()

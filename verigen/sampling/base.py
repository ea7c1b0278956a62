"""The Sampler protocol: a language model that completes chat prompts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from verigen import registry
from verigen.errors import UsageError
from verigen.types import Completion, GenerationRequest, SamplingParams


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplerOptions:
    """How to load and run the model (not what to sample: that is ``SamplingParams``)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = 8
    trust_remote_code: bool = False


@runtime_checkable
class Sampler(Protocol):
    """``generate`` returns, for each request, ``params.n`` completions in order.

    Samplers are constructed as ``SamplerClass(model, options)``; ``model_id`` is what
    provenance records (a hub id, a folder, or the embedded default's name).
    """

    name: str
    model_id: str

    def generate(
        self, requests: Sequence[GenerationRequest], params: SamplingParams
    ) -> list[list[Completion]]: ...

    def close(self) -> None: ...


def create_sampler(backend: str, model: str, options: SamplerOptions) -> Sampler:
    cls = registry.load("samplers", backend)
    if not callable(cls):
        raise UsageError(f"sampler plugin {backend!r} is not callable: {cls!r}")
    sampler = cls(model, options)
    if not isinstance(sampler, Sampler):
        raise UsageError(f"sampler plugin {backend!r} does not implement the Sampler protocol")
    return sampler

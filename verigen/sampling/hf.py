"""The transformers sampler: batched ``generate`` on CPU or one CUDA GPU.

Every requested sample becomes one sequence; sequences are sorted by prompt length (less
padding) and run in batches of ``batch_size``. Inside a batch, a prompt shared by several
samples is prefilled once and its KV cache copied to each of them (``num_return_sequences``
would prefill it once per sample).

Seeds: each sample draws its tokens from its own ``torch.Generator`` seeded with
``sample_seed(seed, problem_id, index)`` (the sampling step is verigen's, applied inside
``generate``), so no sample's randomness depends on which other samples share its batch.
What does not hold exactly: a row's logits can differ in the last float bits with the batch
around it (padding length, batch size), and on a rare near-tie that changes a token. So the
same requests at the same ``batch_size`` give identical samples; a resumed run, which
batches the remaining samples differently, reproduces the uninterrupted one up to those
float differences (tested byte for byte at temperature 0 and at a fixed seed on the
default model). At temperature 0 a prompt is decoded once and copied to its samples.

torch and transformers are imported only when a sampler is created.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from verigen.errors import UsageError
from verigen.sampling.base import SampleOutput, SampleRequest, SamplerOptions
from verigen.sampling.model_store import resolve_model
from verigen.types import ChatMessage, JSONValue, SamplingParams

if TYPE_CHECKING:
    from verigen.sampling._hf_runtime import HFRuntime

log = logging.getLogger(__name__)


class TransformersOptions(SamplerOptions):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(default=8, ge=1)
    trust_remote_code: bool = False


class TransformersSampler:
    """A Hugging Face causal LM. ``model`` is a ``--model`` spec (see ``model_store``):
    ``default`` is the embedded SmolLM2-135M-Instruct."""

    name = "transformers"
    Options = TransformersOptions

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        self.options = options if isinstance(options, TransformersOptions) else TransformersOptions()
        self.resolved = resolve_model(model)
        self.model_id = self.resolved.display_name
        from verigen.sampling._hf_runtime import HFRuntime

        self._runtime: HFRuntime | None = HFRuntime(self.resolved, self.options)
        self.device = self._runtime.device
        self.dtype = self._runtime.dtype
        self.load_seconds = self._runtime.load_seconds

    @classmethod
    def check(cls, model: str, options: SamplerOptions) -> None:
        resolve_model(model)
        missing = [m for m in ("torch", "transformers") if not _importable(m)]
        if missing:
            raise UsageError(
                f"backend 'transformers' needs {', '.join(missing)}: pip install 'verigen[transformers]'"
            )

    def _require(self) -> HFRuntime:
        if self._runtime is None:
            raise UsageError(f"the sampler for {self.model_id} is closed")
        return self._runtime

    @property
    def has_chat_template(self) -> bool:
        return self._require().has_chat_template

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text for ``messages``: the chat template, or ``role: content`` lines."""
        return self._require().render(messages)

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        """Every requested sample, batch by batch (a batch's samples come out together)."""
        check_params(params)
        yield from self._require().stream(requests, params)

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        runtime = self._require()
        return {
            "backend": self.name,
            "device": str(runtime.device),
            "dtype": str(runtime.dtype).removeprefix("torch."),
            "batch_size": self.options.batch_size,
            "sampling": "temperature, then top_p, one seeded generator per sample; top_k off, no penalties",
        }

    def close(self) -> None:
        """Free the model (and the GPU memory it holds)."""
        if self._runtime is not None:
            self._runtime.close()
        self._runtime = None


def check_params(params: SamplingParams) -> None:
    if params.n < 1:
        raise UsageError(f"n must be >= 1, got {params.n}")
    if params.temperature < 0:
        raise UsageError(f"temperature must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise UsageError(f"top_p must be in (0, 1], got {params.top_p}")
    if params.max_tokens < 1:
        raise UsageError(f"max_tokens must be >= 1, got {params.max_tokens}")
    if any(not s for s in params.stop):
        raise UsageError(f"stop strings must be non-empty, got {list(params.stop)!r}")


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def cpu_threads() -> int:
    """Every core this process may use (an explicit OMP_NUM_THREADS is left alone).

    On a quiet 2-core box, 2 threads ran the `make run` job 1.4x faster than 1 (32 s vs
    44 s, benchmarks/RESULTS.md). Under heavy load from OTHER processes, OpenMP threads
    that lose their core stall every step (1-7 tok/s against 12-17 for one thread): set
    OMP_NUM_THREADS=1 on a shared machine.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return max(1, usable)

"""The llama.cpp sampler: GGUF models in process through ``llama-cpp-python``.

One stream at a time (llama.cpp's Python binding decodes one sequence per call); each
sample is seeded with ``sample_seed(seed, problem_id, index)`` so a resumed run draws the
same samples. The chat template is the GGUF file's own (``tokenizer.chat_template``), as
llama-cpp-python applies it. Sampling knobs that llama.cpp applies by default (top_k 40,
min_p 0.05, repeat_penalty 1.1) are switched off: only temperature and top_p shape the
distribution, as with the other backends.

``--model default`` is the embedded SmolLM2-135M-Instruct GGUF itself (no conversion).
``llama_cpp`` is imported only when a sampler is created; the package is a source build
(``pip install 'verigen[llamacpp]'``: cmake and a C++ compiler, about 7 minutes on 2 cores).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from verigen.errors import UsageError
from verigen.sampling.base import SampleOutput, SampleRequest, SamplerOptions
from verigen.sampling.hf import cpu_threads
from verigen.sampling.model_store import resolve_model
from verigen.types import Completion, JSONValue, SamplingParams


class LlamaCppOptions(SamplerOptions):
    n_ctx: int = Field(default=2048, ge=64)
    n_threads: int | None = Field(default=None, ge=1)
    n_batch: int = Field(default=512, ge=1)
    n_gpu_layers: int = Field(default=0, ge=-1)


def gguf_path(model: str) -> Path:
    resolved = resolve_model(model)
    if resolved.gguf_file is None:
        raise UsageError(f"backend 'llamacpp' needs a .gguf model ('default' or a .gguf file), got {model!r}")
    return resolved.gguf_file


class LlamaCppSampler:
    name = "llamacpp"
    Options = LlamaCppOptions

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        self.options = options if isinstance(options, LlamaCppOptions) else LlamaCppOptions()
        self.path = gguf_path(model)
        self.model_id = resolve_model(model).display_name
        from llama_cpp import Llama

        started = time.perf_counter()
        self._llm: Any = Llama(
            model_path=str(self.path), n_ctx=self.options.n_ctx, n_batch=self.options.n_batch,
            n_threads=self.options.n_threads or cpu_threads(), n_gpu_layers=self.options.n_gpu_layers,
            verbose=False,
        )
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def check(cls, model: str, options: SamplerOptions) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise UsageError("backend 'llamacpp' needs llama-cpp-python: pip install 'verigen[llamacpp]' (a source build)")
        gguf_path(model)

    def knobs(self, params: SamplingParams) -> dict[str, Any]:
        """Every sampling argument of ``create_chat_completion``, explicit."""
        return {
            "temperature": params.temperature, "top_p": params.top_p, "top_k": 0, "min_p": 0.0,
            "typical_p": 1.0, "repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
            "mirostat_mode": 0, "max_tokens": params.max_tokens, "stop": list(params.stop) or None,
        }

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        if self._llm is None:
            raise UsageError(f"the sampler for {self.model_id} is closed")
        greedy = params.temperature == 0
        for request in requests:
            messages = [m.to_json() for m in request.messages]
            pairs = list(zip(request.indices, request.seeds(params)))
            for index, seed in pairs[:1] if greedy else pairs:
                started = time.perf_counter()
                resp = self._llm.create_chat_completion(messages=messages, seed=seed, **self.knobs(params))
                choice, usage = resp["choices"][0], resp.get("usage") or {}
                completion = Completion(
                    text=choice["message"]["content"] or "", finish_reason=choice.get("finish_reason"),
                    prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                )
                latency = round(time.perf_counter() - started, 4)
                for i in request.indices if greedy else (index,):
                    yield SampleOutput(problem_id=request.problem_id, index=i, completion=completion, latency_s=latency)

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        knobs: dict[str, JSONValue] = {k: v for k, v in self.knobs(params).items() if k != "stop"}
        knobs["stop"] = list(params.stop)
        return {"backend": self.name, "gguf": self.path.name, "n_ctx": self.options.n_ctx, "sampling": knobs}

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

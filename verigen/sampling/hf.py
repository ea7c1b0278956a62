"""The transformers sampler: batched ``generate`` on CPU or one CUDA GPU.

All ``n`` samples of all requests are flattened into sequences and run in batches of
``options.batch_size`` (left padded, sorted by prompt length to waste less padding). Each
batch is seeded with ``params.seed + batch_index``, so a call is reproducible for the same
requests, params and batch size. At temperature 0 each prompt is decoded once and copied
``n`` times (greedy samples are identical anyway).

torch and transformers are imported here only; the registry imports this module lazily.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
)

from verigen.errors import UsageError
from verigen.sampling.base import SamplerOptions
from verigen.sampling.model_store import ResolvedModel, materialize, resolve_model
from verigen.types import ChatMessage, Completion, GenerationRequest, SamplingParams

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Extra tokens decoded beyond the longest stop string: a token is usually >= 1 character,
# and the margin covers tokens that decode to nothing on their own (partial UTF-8).
_STOP_WINDOW_MARGIN = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sequence:
    request: int  # index into the requests
    sample: int  # index among that request's n samples
    prompt: str


class _StopOnStrings(StoppingCriteria):
    """Marks a sequence finished once its generated text contains a stop string.

    Returns one flag per sequence, so ``generate`` pads finished ones and ends the batch
    when every sequence has hit a stop string or EOS.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stops: Sequence[str], start: int):
        self._tokenizer = tokenizer
        self._stops = tuple(stops)
        self._start = start
        self._window = max(len(s) for s in stops) + _STOP_WINDOW_MARGIN

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        begin = max(self._start, input_ids.shape[1] - self._window)
        tails = self._tokenizer.batch_decode(input_ids[:, begin:], skip_special_tokens=True)
        flags = [any(stop in tail for stop in self._stops) for tail in tails]
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


class TransformersSampler:
    """A Hugging Face causal LM sampled with ``model.generate``.

    ``model`` is a ``--model`` spec (see ``verigen.sampling.model_store``): ``default`` is
    the embedded SmolLM2-135M-Instruct.
    """

    name = "transformers"

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        self.options = options if options is not None else SamplerOptions()
        if self.options.batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {self.options.batch_size}")
        self.resolved = resolve_model(model)
        self.model_id = self.resolved.display_name
        self.device = _pick_device(self.options.device)
        self.dtype = _pick_dtype(self.options.dtype, self.device)
        if self.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            # An explicit OMP_NUM_THREADS (torch's own knob) is left alone.
            torch.set_num_threads(_cpu_threads())
        started = time.perf_counter()
        self._model: PreTrainedModel | None
        self._tokenizer, self._model = _load(self.resolved, self.device, self.dtype, self.options)
        self.load_seconds = time.perf_counter() - started
        log.info(
            "loaded %s on %s (%s) in %.2f s",
            self.model_id, self.device, str(self.dtype).removeprefix("torch."), self.load_seconds,
        )

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self._tokenizer, "chat_template", None))

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text for ``messages``: the chat template, or ``role: content`` lines."""
        if self.has_chat_template:
            rendered = self._tokenizer.apply_chat_template(
                [m.to_json() for m in messages], tokenize=False, add_generation_prompt=True
            )
            return str(rendered)
        lines = [f"{m.role}: {m.content}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def generate(
        self, requests: Sequence[GenerationRequest], params: SamplingParams
    ) -> list[list[Completion]]:
        """``params.n`` completions for each request, in request order."""
        _check_params(params)
        self._require_model()
        greedy = params.temperature == 0
        copies = 1 if greedy else params.n
        prompts = [self.render(r.messages) for r in requests]
        sequences = [
            _Sequence(request=i, sample=j, prompt=prompt)
            for i, prompt in enumerate(prompts)
            for j in range(copies)
        ]
        # Sorting by length keeps similar prompts together: less padding, same results for
        # the same inputs (the order is a pure function of them).
        order = sorted(range(len(sequences)), key=lambda k: len(sequences[k].prompt))
        results: list[list[Completion | None]] = [[None] * copies for _ in requests]
        size = self.options.batch_size
        started, produced = time.perf_counter(), 0
        for batch_index, first in enumerate(range(0, len(order), size)):
            batch = [sequences[k] for k in order[first : first + size]]
            completions = self._generate_batch([s.prompt for s in batch], params, batch_index)
            for seq, completion in zip(batch, completions, strict=True):
                results[seq.request][seq.sample] = completion
                produced += completion.completion_tokens or 0
        elapsed = time.perf_counter() - started
        log.info(
            "generated %d tokens for %d sequences in %.2f s (%.1f tok/s)",
            produced, len(sequences), elapsed, produced / elapsed if elapsed > 0 else 0.0,
        )
        return [_filled(row, params.n) for row in results]

    def _generate_batch(
        self, prompts: list[str], params: SamplingParams, batch_index: int
    ) -> list[Completion]:
        tok = self._tokenizer
        # A chat template already writes the special tokens it wants (e.g. BOS).
        encoded = tok(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=not self.has_chat_template,
        ).to(self.device)
        start = int(encoded["input_ids"].shape[1])
        criteria = StoppingCriteriaList()
        if params.stop:
            criteria.append(_StopOnStrings(tok, params.stop, start))
        torch.manual_seed(params.seed + batch_index)
        with torch.inference_mode():
            output = self._require_model().generate(  # type: ignore[operator]
                **encoded,
                generation_config=self._generation_config(params),
                stopping_criteria=criteria,
            )
        prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
        return [
            self._completion(output[i, start:].tolist(), int(prompt_lengths[i]), params.stop)
            for i in range(len(prompts))
        ]

    def _generation_config(self, params: SamplingParams) -> GenerationConfig:
        # A fresh config, not the model's: its defaults (top_k=50, repetition penalties)
        # would silently change the sampling distribution the caller asked for.
        base = self._require_model().generation_config
        sampling: dict[str, Any] = (
            {"do_sample": False}
            if params.temperature == 0
            else {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
        )
        return GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=params.max_tokens,
            pad_token_id=self._tokenizer.pad_token_id,
            eos_token_id=base.eos_token_id,
            bos_token_id=base.bos_token_id,
            **sampling,
        )

    def _completion(self, generated: list[int], prompt_tokens: int, stops: Sequence[str]) -> Completion:
        ends = self._end_ids()
        count = next((k for k, t in enumerate(generated) if t in ends), len(generated))
        hit_eos = count < len(generated) and generated[count] in self._eos_ids()
        text = str(self._tokenizer.decode(generated[:count], skip_special_tokens=True))
        cut = min((p for p in (text.find(s) for s in stops) if p >= 0), default=-1)
        if cut >= 0:
            # Tokens after the stop string's token are padding (which may be EOS): not counted.
            text, reason, tokens = text[:cut], "stop", count
        else:
            reason, tokens = ("stop", count + 1) if hit_eos else ("length", count)
        return Completion(
            text=text, finish_reason=reason, prompt_tokens=prompt_tokens, completion_tokens=tokens
        )

    def _eos_ids(self) -> set[int]:
        eos = self._require_model().generation_config.eos_token_id
        ids = eos if isinstance(eos, list) else [eos]
        return {int(i) for i in ids if i is not None}

    def _end_ids(self) -> set[int]:
        # generate() pads finished sequences with the pad token.
        pad = self._tokenizer.pad_token_id
        return self._eos_ids() | ({int(pad)} if pad is not None else set())

    def _require_model(self) -> PreTrainedModel:
        if self._model is None:
            raise UsageError(f"the sampler for {self.model_id} is closed")
        return self._model

    def close(self) -> None:
        """Free the model (and the GPU memory it holds)."""
        self._model = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _load(
    resolved: ResolvedModel, device: torch.device, dtype: torch.dtype, options: SamplerOptions
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    source = materialize(resolved)
    remote = options.trust_remote_code
    # verigen draws its own progress bars; transformers' per-load bar would interleave them.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=remote)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, trust_remote_code=remote)
    except OSError as exc:
        where = "from the Hugging Face hub (no network here, or HF_HUB_OFFLINE set?)" if (
            resolved.kind == "hub"
        ) else f"from {source}"
        raise UsageError(f"model {resolved.spec!r} could not be loaded {where}: {exc}") from exc
    tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)  # type: ignore[arg-type]
    model.eval()  # type: ignore[no-untyped-call]
    return tokenizer, model


def _check_params(params: SamplingParams) -> None:
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


def _filled(row: list[Completion | None], n: int) -> list[Completion]:
    done = [c for c in row if c is not None]
    if len(done) != len(row):
        raise RuntimeError("a sequence was not generated")  # a bug in the batching above
    return done * n if len(done) == 1 and n > 1 else done


def _pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but torch sees no CUDA GPU")
    if requested not in ("cpu", "cuda"):
        raise UsageError(f"device must be auto, cpu or cuda, got {requested!r}")
    return torch.device(requested)


def _pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return _DTYPES[requested]
    except KeyError:
        raise UsageError(f"dtype must be auto, float32, bfloat16 or float16, got {requested!r}") from None


def _cpu_threads() -> int:
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

"""The torch side of the transformers sampler (imported only when one is created)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from verigen.errors import UsageError
from verigen.sampling.base import SampleOutput, SampleRequest
from verigen.sampling.hf import TransformersOptions, cpu_threads
from verigen.sampling.model_store import ResolvedModel, materialize
from verigen.types import ChatMessage, Completion, SamplingParams

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Extra tokens decoded beyond the longest stop string: a token is usually >= 1 character,
# and the margin covers tokens that decode to nothing on their own (partial UTF-8).
_STOP_WINDOW_MARGIN = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    """One sequence to generate: sample ``index`` of ``request``."""

    request: SampleRequest
    index: int
    seed: int
    prompt: str


class _StopOnStrings(StoppingCriteria):
    """Marks a sequence finished once its generated text contains a stop string."""

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


class _SeededSampling(LogitsProcessor):
    """Temperature, top-p, then one draw per row from that row's own generator.

    ``generate`` runs greedy; this processor leaves only the drawn token finite, so the
    greedy pick is the sampled token and no row's draw depends on the other rows.
    """

    def __init__(self, seeds: Sequence[int], params: SamplingParams, device: torch.device) -> None:
        self._generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self._temperature = params.temperature
        self._top_p = params.top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logits = scores.float() / self._temperature
        if self._top_p < 1.0:
            ordered, order = torch.sort(logits, descending=True, dim=-1)
            probs = ordered.softmax(dim=-1)
            # drop a token once the tokens before it already cover top_p (the first stays)
            drop = (probs.cumsum(dim=-1) - probs) > self._top_p
            logits = logits.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
        probs = logits.softmax(dim=-1)
        picked = torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self._generators)])
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(out.shape[0], device=out.device), picked] = 0.0
        return out  # type: ignore[return-value]


class HFRuntime:
    def __init__(self, resolved: ResolvedModel, options: TransformersOptions) -> None:
        self.options = options
        self.model_id = resolved.display_name
        self.device = _pick_device(options.device)
        self.dtype = _pick_dtype(options.dtype, self.device)
        if self.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(cpu_threads())  # an explicit OMP_NUM_THREADS is left alone
        started = time.perf_counter()
        self.tokenizer, self.model = _load(resolved, self.device, self.dtype, options.trust_remote_code)
        self.load_seconds = time.perf_counter() - started
        log.info("loaded %s on %s (%s) in %.2f s", self.model_id, self.device, self.dtype, self.load_seconds)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def render(self, messages: Sequence[ChatMessage]) -> str:
        if self.has_chat_template:
            rendered = self.tokenizer.apply_chat_template(
                [m.to_json() for m in messages], tokenize=False, add_generation_prompt=True
            )
            return str(rendered)
        return "\n".join([*(f"{m.role}: {m.content}" for m in messages), "assistant:"])

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        greedy = params.temperature == 0
        rows: list[_Row] = []
        for request in requests:
            prompt = self.render(request.messages)
            pairs = list(zip(request.indices, request.seeds(params)))
            # Greedy samples are identical: decode one, copy it to the others.
            for index, seed in pairs[:1] if greedy else pairs:
                rows.append(_Row(request=request, index=index, seed=seed, prompt=prompt))
        # Sorting by length keeps similar prompts together (less padding); the order is a
        # pure function of the rows, so the same requests always batch the same way.
        rows.sort(key=lambda r: (len(r.prompt), r.prompt, r.index))
        size = self.options.batch_size
        for first in range(0, len(rows), size):
            batch = rows[first : first + size]
            started = time.perf_counter()
            completions = self._generate(batch, params)
            per_row = (time.perf_counter() - started) / len(batch)
            for row, completion in zip(batch, completions, strict=True):
                indices = row.request.indices if greedy else (row.index,)
                for index in indices:
                    yield SampleOutput(problem_id=row.request.problem_id, index=index,
                                       completion=completion, latency_s=round(per_row, 4))

    def _generate(self, batch: list[_Row], params: SamplingParams) -> list[Completion]:
        tok, model = self.tokenizer, self._require()
        prompts = list(dict.fromkeys(r.prompt for r in batch))  # unique, in batch order
        encoded = tok(prompts, return_tensors="pt", padding=True,
                      add_special_tokens=not self.has_chat_template).to(self.device)
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        start = int(ids.shape[1])
        which = torch.tensor([prompts.index(r.prompt) for r in batch], device=self.device)
        criteria = StoppingCriteriaList()
        if params.stop:
            criteria.append(_StopOnStrings(tok, params.stop, start))
        processors = LogitsProcessorList()
        if params.temperature > 0:
            processors.append(_SeededSampling([r.seed for r in batch], params, self.device))
        with torch.inference_mode():
            cache = self._prefill(ids, mask, which) if start > 1 else None
            output = model.generate(  # type: ignore[operator]
                input_ids=ids[which], attention_mask=mask[which], past_key_values=cache,
                generation_config=self._generation_config(params),
                logits_processor=processors, stopping_criteria=criteria,
            )
        prompt_lengths = mask.sum(dim=1).tolist()
        return [
            self._completion(output[i, start:].tolist(), int(prompt_lengths[int(which[i])]), params.stop)
            for i in range(len(batch))
        ]

    def _prefill(self, ids: torch.Tensor, mask: torch.Tensor, which: torch.Tensor) -> DynamicCache:
        """The KV cache of every unique prompt but its last token, copied to each row."""
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        self._require()(
            input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
            past_key_values=cache, use_cache=True,
        )
        if not torch.equal(which, torch.arange(ids.shape[0], device=which.device)):
            cache.batch_select_indices(which)
        return cache

    def _generation_config(self, params: SamplingParams) -> GenerationConfig:
        # A fresh config, not the model's: its defaults (top_k=50, repetition penalties)
        # would silently change the sampling distribution the caller asked for. Sampling
        # itself is _SeededSampling's; generate only takes the one token left.
        base = self._require().generation_config
        return GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=params.max_tokens, do_sample=False,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=base.eos_token_id, bos_token_id=base.bos_token_id,
        )

    def _completion(self, generated: list[int], prompt_tokens: int, stops: Sequence[str]) -> Completion:
        ends = self._end_ids()
        count = next((k for k, t in enumerate(generated) if t in ends), len(generated))
        hit_eos = count < len(generated) and generated[count] in self._eos_ids()
        text = str(self.tokenizer.decode(generated[:count], skip_special_tokens=True))
        cut = min((p for p in (text.find(s) for s in stops) if p >= 0), default=-1)
        if cut >= 0:
            # Tokens after the stop string's token are padding (which may be EOS): not counted.
            text, reason, tokens = text[:cut], "stop", count
        else:
            reason, tokens = ("stop", count + 1) if hit_eos else ("length", count)
        return Completion(text=text, finish_reason=reason, prompt_tokens=prompt_tokens, completion_tokens=tokens)

    def _eos_ids(self) -> set[int]:
        eos = self._require().generation_config.eos_token_id
        ids = eos if isinstance(eos, list) else [eos]
        return {int(i) for i in ids if i is not None}

    def _end_ids(self) -> set[int]:
        pad = self.tokenizer.pad_token_id  # generate() pads finished sequences with it
        return self._eos_ids() | ({int(pad)} if pad is not None else set())

    def _require(self) -> PreTrainedModel:
        if self.model is None:
            raise UsageError(f"the sampler for {self.model_id} is closed")
        return self.model

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _load(
    resolved: ResolvedModel, device: torch.device, dtype: torch.dtype, remote: bool
) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    source = materialize(resolved)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # verigen draws its own bars
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


def _pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device(requested)


def _pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[requested]

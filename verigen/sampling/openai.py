"""The OpenAI-compatible sampler: any server that speaks the OpenAI API (``vllm serve``,
llama.cpp's server, TGI, SGLang, hosted APIs), through the official ``openai`` client.

- Async, at most ``max_in_flight`` requests in flight; completions are yielded as they
  arrive.
- One request per sample by default (``n=1``, ``seed=sample_seed(...)``), so a sample is the
  same whichever run or chunk asks for it on servers that honour ``seed``, and n samples
  are n independent draws even on servers that ignore ``n`` or ``seed``. ``server_n =
  true`` asks for a run of samples in one request (servers that share the prompt's prefill
  across ``n``); a server that returns fewer choices is asked again for the rest.
- Every sampling parameter is sent explicitly, and (``neutral_extras``, on by default)
  the non-OpenAI knobs servers apply by default are turned off: llama.cpp's server samples
  with ``repeat_penalty`` 1.1, ``top_k`` 40 and ``min_p`` 0.05 unless told otherwise. A
  hosted API that rejects unknown fields needs ``neutral_extras = false``.
- Retries with exponential backoff (and the server's Retry-After) on 429, 5xx, timeouts
  and connection errors; any other 4xx is a clear error naming status and message.
- ``endpoint = "auto"`` uses ``/chat/completions`` and falls back to ``/completions`` on a
  404; ``/completions`` prompts are rendered with the chat template of ``tokenizer`` (a
  ``--model`` spec) when given, else as ``role: content`` lines.
- The API key is read from the environment variable named by ``api_key_env``; only that
  name is ever written anywhere (config.toml, manifest).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field

from verigen.errors import InfrastructureError, UsageError
from verigen.sampling.base import SampleOutput, SampleRequest, SamplerOptions
from verigen.sampling.seeds import sample_seed
from verigen.sampling.vllm import runs
from verigen.types import ChatMessage, Completion, JSONValue, SamplingParams

log = logging.getLogger(__name__)

# The knobs of popular servers that are not OpenAI's, set to "off".
NEUTRAL_EXTRAS: dict[str, JSONValue] = {
    "top_k": 0,  # vLLM: 0 disables; llama.cpp: <= 0 disables (its default is 40)
    "min_p": 0.0,  # llama.cpp's default is 0.05
    "repetition_penalty": 1.0,  # vLLM, TGI, SGLang
    "repeat_penalty": 1.0,  # llama.cpp's default is 1.1
}
MAX_BACKOFF_S = 60.0


class OpenAIOptions(SamplerOptions):
    base_url: str
    api_key_env: str | None = None
    endpoint: Literal["auto", "chat", "completions"] = "auto"
    tokenizer: str | None = None
    max_in_flight: int = Field(default=16, ge=1, le=4096)
    timeout_s: float = Field(default=600.0, gt=0.0)
    max_retries: int = Field(default=6, ge=0, le=100)
    backoff_s: float = Field(default=1.0, ge=0.0)
    server_n: bool = False
    neutral_extras: bool = True
    extra_body: dict[str, str | int | float | bool] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ask:
    request: SampleRequest
    indices: tuple[int, ...]


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


class OpenAISampler:
    name = "openai"
    Options = OpenAIOptions

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        if not isinstance(options, OpenAIOptions):
            raise UsageError("backend 'openai' needs model.base_url (e.g. http://127.0.0.1:8000/v1)")
        self.check(model, options)
        self.options = options
        self.model = model
        self.model_id = f"{model} @ {options.base_url}"
        self.endpoint: Literal["chat", "completions"] = "completions" if options.endpoint == "completions" else "chat"
        self._render: Any = None
        if options.tokenizer is not None:
            from transformers import AutoTokenizer

            from verigen.sampling.model_store import materialize, resolve_model

            self._render = AutoTokenizer.from_pretrained(materialize(resolve_model(options.tokenizer)))
        self._closed = False

    @classmethod
    def check(cls, model: str, options: SamplerOptions) -> None:
        if not isinstance(options, OpenAIOptions):
            raise UsageError("backend 'openai' needs model.base_url (e.g. http://127.0.0.1:8000/v1)")
        if importlib.util.find_spec("openai") is None:
            raise UsageError("backend 'openai' needs the openai client: pip install 'verigen[openai]'")
        url = urlparse(options.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise UsageError(f"model.base_url {options.base_url!r} is not an http(s) URL")
        if not model.strip():
            raise UsageError("--model is empty: give the model name the server serves")
        if options.api_key_env is not None and not os.environ.get(options.api_key_env):
            raise UsageError(f"model.api_key_env names {options.api_key_env!r}, which is not set in the environment")

    # -- what is sent ---------------------------------------------------------------

    def body(self, params: SamplingParams, n: int, seed: int) -> dict[str, JSONValue]:
        """The request body without the messages/prompt: every sampling parameter explicit."""
        body: dict[str, JSONValue] = {
            "model": self.model, "n": n, "seed": seed, "temperature": params.temperature,
            "top_p": params.top_p, "max_tokens": params.max_tokens, "stop": list(params.stop) or None,
            "presence_penalty": 0.0, "frequency_penalty": 0.0,
        }
        if self.options.neutral_extras:
            body.update(NEUTRAL_EXTRAS)
        body.update(self.options.extra_body)
        return body

    def prompt(self, messages: Sequence[ChatMessage]) -> str:
        if self._render is not None and getattr(self._render, "chat_template", None):
            return str(self._render.apply_chat_template(
                [m.to_json() for m in messages], tokenize=False, add_generation_prompt=True))
        return "\n".join([*(f"{m.role}: {m.content}" for m in messages), "assistant:"])

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        body = self.body(params, 1, 0)
        body["seed"] = "sample_seed(sampling_seed, problem_id, sample_index)"
        body["n"] = "a run of consecutive samples" if self.options.server_n else 1
        return {
            "backend": self.name, "base_url": self.options.base_url, "endpoint": self.endpoint,
            "api_key_env": self.options.api_key_env, "max_in_flight": self.options.max_in_flight,
            "body": body,
        }

    # -- streaming --------------------------------------------------------------------

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        if self._closed:
            raise UsageError(f"the sampler for {self.model_id} is closed")
        asks = [
            _Ask(request=r, indices=run)
            for r in requests
            for run in (runs(r.indices) if self.options.server_n else [(i,) for i in r.indices])
        ]
        results: queue.Queue[object] = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=self._run_loop, args=(asks, params, results, stop),
                                  name="openai-sampler", daemon=True)
        thread.start()
        try:
            while True:
                item = results.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failed):
                    raise item.exc
                assert isinstance(item, SampleOutput)
                yield item
        finally:
            stop.set()
            thread.join()

    def _run_loop(self, asks: list[_Ask], params: SamplingParams, results: queue.Queue[object],
                  stop: threading.Event) -> None:
        try:
            asyncio.run(self._all(asks, params, results, stop))
            results.put(_DONE)
        except BaseException as exc:
            results.put(_Failed(exc))

    async def _all(self, asks: list[_Ask], params: SamplingParams, results: queue.Queue[object],
                   stop: threading.Event) -> None:
        from openai import AsyncOpenAI

        key = os.environ.get(self.options.api_key_env, "") if self.options.api_key_env else ""
        client = AsyncOpenAI(base_url=self.options.base_url, api_key=key or "EMPTY",
                             timeout=self.options.timeout_s, max_retries=0)
        gate = asyncio.Semaphore(self.options.max_in_flight)

        async def one(ask: _Ask) -> None:
            async with gate:
                if stop.is_set():
                    return
                for out in await self._ask(client, ask, params):
                    results.put(out)

        tasks = [asyncio.create_task(one(a)) for a in asks]
        watcher = asyncio.create_task(_cancel_on(stop, tasks))
        try:
            for fut in asyncio.as_completed(tasks):
                await fut
        finally:
            watcher.cancel()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _ask(self, client: Any, ask: _Ask, params: SamplingParams) -> list[SampleOutput]:
        """All samples of one ask; a server that returns fewer choices is asked for the rest."""
        outs: list[SampleOutput] = []
        left = list(ask.indices)
        while left:
            seed = sample_seed(params.seed, ask.request.problem_id, left[0])
            started = time.perf_counter()
            choices, usage = await self._send(client, ask.request.messages, self.body(params, len(left), seed))
            latency = round(time.perf_counter() - started, 4)
            if not choices:
                raise InfrastructureError(f"server {self.options.base_url} answered with no choices")
            for index, (text, reason) in zip(left, choices):
                completion = Completion(
                    text=text, finish_reason=reason, prompt_tokens=usage[0],
                    completion_tokens=usage[1] if len(left) == 1 else None,
                )
                outs.append(SampleOutput(problem_id=ask.request.problem_id, index=index,
                                         completion=completion, latency_s=latency))
            left = left[len(choices):]
        return outs

    async def _send(self, client: Any, messages: Sequence[ChatMessage], body: dict[str, JSONValue]
                    ) -> tuple[list[tuple[str, str | None]], tuple[int | None, int | None]]:
        import openai

        standard = {k: v for k, v in body.items() if k not in NEUTRAL_EXTRAS and k not in self.options.extra_body}
        extra = {k: v for k, v in body.items() if k not in standard}
        for attempt in range(self.options.max_retries + 1):
            try:
                if self.endpoint == "chat":
                    resp = await client.chat.completions.create(
                        messages=[m.to_json() for m in messages], extra_body=extra, **standard)
                    choices = [(c.message.content or "", c.finish_reason) for c in resp.choices]
                else:
                    resp = await client.completions.create(prompt=self.prompt(messages), extra_body=extra, **standard)
                    choices = [(c.text or "", c.finish_reason) for c in resp.choices]
                usage = resp.usage
                return choices, (getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))
            except openai.NotFoundError as exc:
                if self.endpoint == "chat" and self.options.endpoint == "auto":
                    log.warning("%s has no chat endpoint (404): using /completions", self.options.base_url)
                    self.endpoint = "completions"
                    continue
                raise UsageError(f"server {self.options.base_url} answered 404: {_message(exc)}") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
                if attempt >= self.options.max_retries:
                    raise InfrastructureError(
                        f"server {self.options.base_url} still failing after {attempt + 1} tries: {_message(exc)}"
                    ) from exc
                await asyncio.sleep(_backoff(exc, attempt, self.options.backoff_s))
            except openai.APIStatusError as exc:
                raise UsageError(
                    f"server {self.options.base_url} refused the request ({exc.status_code}): {_message(exc)}"
                ) from None
        raise InfrastructureError(f"server {self.options.base_url}: no answer")  # the loop always returns or raises

    def close(self) -> None:
        self._closed = True


async def _cancel_on(stop: threading.Event, tasks: list[asyncio.Task[None]]) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()


def _message(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc)[:300]


def _backoff(exc: BaseException, attempt: int, base: float) -> float:
    """The server's Retry-After when it sends one, else exponential backoff with jitter."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header is not None:
        try:
            return min(MAX_BACKOFF_S, max(0.0, float(header)))
        except ValueError:
            pass
    return float(min(MAX_BACKOFF_S, base * (2 ** attempt)) * (0.5 + random.random()))

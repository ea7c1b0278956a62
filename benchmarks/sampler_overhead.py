"""Each sampler backend against its bare library on the same prompts and params.

    .venv/bin/python benchmarks/sampler_overhead.py --backend transformers
    .venv/bin/python benchmarks/sampler_overhead.py --backend llamacpp
    .venv-vllm/bin/python benchmarks/sampler_overhead.py --backend vllm
    .venv-vllm/bin/python benchmarks/sampler_overhead.py --backend openai --base-url http://127.0.0.1:8000/v1 --model smol

Rounds alternate verigen and bare (the order flips every round) on one loaded model, and
print tokens/s of each and their paired ratio; the bar is verigen >= 95% of bare. The bare
runs are what a user would write without verigen:

- transformers: ``model.generate(do_sample=True, num_return_sequences=n)`` over the same
  prompts in batches of ``--batch-size`` sequences;
- vllm: ``LLM.chat(conversations, SamplingParams(n=n, seed=...))``;
- openai: the plain ``AsyncOpenAI`` client, one request per sample, same concurrency;
- llamacpp: ``Llama.create_chat_completion`` per sample with the same knobs.

Prompts: ``--prompts`` arithmetic problems of the default task (its chat messages).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from verigen.sampling.base import Sampler, SampleRequest, create_sampler, parse_options
from verigen.task import TaskContext, create_task
from verigen.types import ChatMessage, SamplingParams


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", required=True, choices=["transformers", "vllm", "openai", "llamacpp"])
    ap.add_argument("--model", default="default")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    return ap.parse_args()


def _conversations(count: int) -> list[tuple[str, tuple[ChatMessage, ...]]]:
    task = create_task("arithmetic", {"difficulty": "1", "count": str(count)}, TaskContext())
    return [(p.id, task.messages(p)) for p in task.problems(split="train", seed=0)]


def _options(a: argparse.Namespace) -> dict[str, object]:
    if a.backend == "transformers":
        return {"batch_size": a.batch_size, "device": "cpu"}
    if a.backend == "vllm":
        return {"enforce_eager": True, "max_model_len": 1024}
    if a.backend == "openai":
        return {"base_url": a.base_url, "max_in_flight": a.concurrency}
    return {}


def verigen_run(sampler: Sampler, convs: list[tuple[str, tuple[ChatMessage, ...]]], params: SamplingParams) -> int:
    asks = [SampleRequest(problem_id=pid, messages=m, indices=tuple(range(params.n))) for pid, m in convs]
    return sum(o.completion.completion_tokens or 0 for o in sampler.stream(asks, params))


def bare_transformers(sampler: Any, convs: list[tuple[str, tuple[ChatMessage, ...]]], params: SamplingParams,
                      batch_size: int) -> int:
    import torch

    rt = sampler._runtime
    tok, model = rt.tokenizer, rt.model
    prompts = [rt.render(m) for _, m in convs]
    per_batch = max(1, batch_size // params.n)
    eos = set(rt._end_ids())
    tokens = 0
    torch.manual_seed(params.seed)
    for i in range(0, len(prompts), per_batch):
        enc = tok(prompts[i : i + per_batch], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0,
                                 num_return_sequences=params.n, max_new_tokens=params.max_tokens,
                                 pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            tokens += next((k + 1 for k, t in enumerate(row) if t in eos), len(row))
    return tokens


def bare_vllm(sampler: Any, convs: list[tuple[str, tuple[ChatMessage, ...]]], params: SamplingParams) -> int:
    from vllm import SamplingParams as V

    outs = sampler._llm.chat([[m.to_json() for m in msgs] for _, msgs in convs],
                             V(n=params.n, seed=params.seed, temperature=params.temperature, top_p=params.top_p,
                               max_tokens=params.max_tokens), use_tqdm=False)
    return sum(len(c.token_ids) for o in outs for c in o.outputs)


def bare_openai(sampler: Any, convs: list[tuple[str, tuple[ChatMessage, ...]]], params: SamplingParams,
                concurrency: int) -> int:
    from openai import AsyncOpenAI

    async def run() -> int:
        client = AsyncOpenAI(base_url=sampler.options.base_url, api_key="EMPTY")
        gate = asyncio.Semaphore(concurrency)

        async def one(msgs: tuple[ChatMessage, ...], seed: int) -> int:
            async with gate:
                r = await client.chat.completions.create(
                    model=sampler.model, messages=[m.to_json() for m in msgs],  # type: ignore[misc]
                    temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens, seed=seed)
                return r.usage.completion_tokens if r.usage else 0

        counts = await asyncio.gather(*(one(m, params.seed + i) for _, m in convs for i in range(params.n)))
        await client.close()
        return sum(counts)

    return asyncio.run(run())


def bare_llamacpp(sampler: Any, convs: list[tuple[str, tuple[ChatMessage, ...]]], params: SamplingParams) -> int:
    tokens = 0
    for _, msgs in convs:
        for i in range(params.n):
            r = sampler._llm.create_chat_completion(messages=[m.to_json() for m in msgs], seed=params.seed + i,
                                                    **sampler.knobs(params))
            tokens += r["usage"]["completion_tokens"]
    return tokens


def _timed(fn: Callable[[], int]) -> float:
    started = time.perf_counter()
    tokens = fn()
    return tokens / (time.perf_counter() - started)


def main() -> None:
    a = _args()
    convs = _conversations(a.prompts)
    params = SamplingParams(n=a.n, temperature=0.7, top_p=0.95, max_tokens=a.max_tokens, seed=0)
    sampler = create_sampler(a.backend, a.model, parse_options(a.backend, _options(a)))
    bare: dict[str, Callable[[], int]] = {
        "transformers": lambda: bare_transformers(sampler, convs, params, a.batch_size),
        "vllm": lambda: bare_vllm(sampler, convs, params),
        "openai": lambda: bare_openai(sampler, convs, params, a.concurrency),
        "llamacpp": lambda: bare_llamacpp(sampler, convs, params),
    }
    ours: Callable[[], int] = lambda: verigen_run(sampler, convs, params)  # noqa: E731
    verigen_run(sampler, convs[:1], SamplingParams(n=1, max_tokens=4))  # warm-up
    print(f"backend={a.backend} model={sampler.model_id} prompts={len(convs)} n={a.n} max_tokens={a.max_tokens} "
          f"cpus={os.cpu_count()} loadavg={os.getloadavg()[0]:.2f}")
    ratios = []
    for r in range(a.rounds):
        first, second = (ours, bare[a.backend]) if r % 2 == 0 else (bare[a.backend], ours)
        x, y = _timed(first), _timed(second)
        mine, theirs = (x, y) if r % 2 == 0 else (y, x)
        ratios.append(mine / theirs)
        print(f"round {r}: verigen {mine:.1f} tok/s, bare {theirs:.1f} tok/s, ratio {mine / theirs:.3f}", flush=True)
    print(f"median ratio verigen/bare = {statistics.median(ratios):.3f} (bar >= 0.95); loadavg={os.getloadavg()[0]:.2f}")
    sampler.close()


if __name__ == "__main__":
    main()

"""Throughput of the transformers sampler, and the one-time GGUF conversion cost.

    .venv/bin/python benchmarks/sampler_throughput.py --model default --batch-sizes 1 8

Prints one line per measurement: GGUF -> safetensors conversion time (into a temporary
cache, so the user cache is not touched), cached load time, then generated tokens per second
at each batch size (batch b = b sampled sequences of one long-answer prompt, generated in one
``generate`` batch, best of ``--repeats``).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from verigen.sampling.base import SamplerOptions
from verigen.sampling.hf import TransformersSampler
from verigen.sampling.model_store import converted_dir, materialize, resolve_model
from verigen.types import ChatMessage, GenerationRequest, SamplingParams

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-conversion", action="store_true", help="do not time a fresh conversion")
    return parser.parse_args()


def time_conversion(model: str) -> None:
    resolved = resolve_model(model)
    if resolved.gguf_file is None:
        print(f"conversion: not a GGUF model ({resolved.kind})")
        return
    with tempfile.TemporaryDirectory() as scratch:
        target = converted_dir(resolved.gguf_file, Path(scratch))
        fresh = type(resolved)(
            spec=resolved.spec, kind=resolved.kind, source=str(target),
            display_name=resolved.display_name, gguf_file=resolved.gguf_file,
        )
        started = time.perf_counter()
        materialize(fresh)
        print(f"conversion (GGUF -> safetensors, first use): {time.perf_counter() - started:.1f} s")


def time_throughput(sampler: TransformersSampler, batch: int, max_tokens: int, repeats: int) -> None:
    request = GenerationRequest(problem_id="bench", messages=(ChatMessage(role="user", content=PROMPT),))
    best_rate, best_tokens, best_time = 0.0, 0, 0.0
    for repeat in range(repeats):
        params = SamplingParams(n=batch, temperature=0.7, max_tokens=max_tokens, seed=repeat)
        started = time.perf_counter()
        rows = sampler.generate([request], params)
        elapsed = time.perf_counter() - started
        tokens = sum(c.completion_tokens or 0 for c in rows[0])
        if tokens / elapsed > best_rate:
            best_rate, best_tokens, best_time = tokens / elapsed, tokens, elapsed
    print(f"batch {batch}: {best_rate:.1f} tok/s ({best_tokens} tokens in {best_time:.2f} s)")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    args = _parse()
    print(f"cpus={os.cpu_count()} loadavg={os.getloadavg()[0]:.2f}")
    if not args.skip_conversion:
        time_conversion(args.model)
    materialize(resolve_model(args.model))  # make sure the user cache exists before timing a load
    started = time.perf_counter()
    sampler = TransformersSampler(args.model, SamplerOptions(device=args.device, batch_size=max(args.batch_sizes)))
    print(f"cached load ({sampler.device}, {sampler.dtype}): {time.perf_counter() - started:.2f} s")
    sampler.generate(  # warm-up: first call pays one-time allocations
        [GenerationRequest(problem_id="w", messages=(ChatMessage(role="user", content="Hi"),))],
        SamplingParams(max_tokens=4),
    )
    for batch in args.batch_sizes:
        time_throughput(sampler, batch, args.max_tokens, args.repeats)
    print(f"loadavg after={os.getloadavg()[0]:.2f}")
    sampler.close()


if __name__ == "__main__":
    main()

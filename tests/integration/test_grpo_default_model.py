"""TRL's GRPOTrainer on the embedded default model (SmolLM2-135M-Instruct, CPU), with a
verigen verifier as its reward: a few real steps on a math task (arithmetic) and on a code
task (MBPP train, programs run in the bwrap sandbox). The model generates its own
completions; every one of them must reach the verifier and come back as a score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from verigen.config import build_config
from verigen.engine import execute, plan
from verigen.rewards import VerifierReward, prompt_rows

pytestmark = pytest.mark.slow

STEPS = 2
BATCH = 4  # completions per step: 2 prompts x 2 generations


def _rows(tmp_path: Path, overrides: list[str]) -> list[dict[str, object]]:
    """The task's problems as GRPO dataset rows, through a run of the fake sampler (its
    answers are never used: only problems.jsonl is read)."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"*": ["no answer"]}))
    cfg = build_config(overrides=[*overrides, "sampling.n=1", "model.backend=fake", f"model.name={script}",
                                  f"output.out={tmp_path / 'run'}", "output.decontam.enabled=false",
                                  "output.report_plots=false"])
    execute(plan(cfg))
    return prompt_rows(tmp_path / "run")  # type: ignore[return-value]


def _train(tmp_path: Path, rows: list[dict[str, object]], reward: VerifierReward, max_len: int) -> int:
    import datasets
    from trl import GRPOConfig, GRPOTrainer  # type: ignore[attr-defined]

    from verigen.sampling.model_store import materialize, resolve_model

    model = materialize(resolve_model("default"))
    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=STEPS, per_device_train_batch_size=BATCH,
                      num_generations=2, max_completion_length=max_len, learning_rate=1e-6, report_to=[],
                      save_strategy="no", logging_steps=1, use_cpu=True, bf16=False, fp16=False,
                      gradient_checkpointing=False, dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = GRPOTrainer(model=str(model), reward_funcs=[reward], args=args,
                          train_dataset=datasets.Dataset.from_list(rows))
    out = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == STEPS and all(isinstance(x, float) for x in losses)
    return int(out.global_step)


def test_grpo_steps_on_a_math_task_with_the_default_model(tmp_path: Path) -> None:
    rows = _rows(tmp_path, ["task.name=arithmetic", "task.limit=4", "task.args.difficulty=1"])
    assert len(rows) == 4
    with VerifierReward("arithmetic", workers=1) as reward:
        assert _train(tmp_path, rows, reward, max_len=24) == STEPS
    assert sum(reward.counts.values()) == STEPS * BATCH  # every completion the model wrote was verified
    assert reward.counts["error"] == 0
    assert set(reward.counts) <= {"accepted", "rejected", "no_answer", "timeout"}


@pytest.mark.bwrap
def test_grpo_steps_on_a_code_task_with_the_default_model(shared_data: Path, tmp_path: Path) -> None:
    from verigen.sandbox.select import bwrap_unavailable_reason

    reason = bwrap_unavailable_reason()
    if reason is not None:
        skip_or_fail("bwrap", reason)
    rows = _rows(tmp_path, ["task.name=mbpp", "task.split=train", "task.limit=4", f"task.data_dir={shared_data}",
                            "sandbox.backend=bwrap"])
    assert len(rows) == 4
    with VerifierReward("mbpp", data_dir=shared_data, sandbox="bwrap", workers=2) as reward:
        assert _train(tmp_path, rows, reward, max_len=48) == STEPS
    assert sum(reward.counts.values()) == STEPS * BATCH
    assert reward.counts["error"] == 0  # the sandbox ran every program the model wrote
    assert set(reward.counts) <= {"accepted", "rejected", "no_answer", "timeout"}

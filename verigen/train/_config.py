"""``TrainConfig``: the M-step's settings ([train] in a loop config, or ``verigen train --set``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """Supervised fine-tuning through TRL's ``SFTTrainer``, loss on the completion tokens only.

    ``bf16`` / ``gradient_checkpointing``: None follows the device (on for CUDA, off on the
    CPU, where TRL's own defaults of True would fail or only slow training down).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["full", "lora"] = "full"
    lora_r: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    lora_target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    merge_lora: bool = True  # merged into the base weights, so every sampler loads the checkpoint as --model
    optimizer: str = "adamw_torch"  # any transformers ``optim`` name
    learning_rate: float = Field(default=1e-5, gt=0.0)
    lr_scheduler: str = "linear"
    warmup_steps: int = Field(default=0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    epochs: float = Field(default=3.0, gt=0.0)
    max_steps: int | None = Field(default=None, ge=1)  # overrides epochs when set
    batch_size: int = Field(default=4, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    max_length: int = Field(default=1024, ge=8)
    completion_only_loss: bool = True
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool | None = None
    gradient_checkpointing: bool | None = None


class RMConfig(BaseModel):
    """Reward-model training through TRL's ``RewardTrainer`` ([rm] in a config file, or
    ``verigen train-rm --set rm.KEY=VALUE``): a sequence-classification head (one output)
    on the base model, trained on every (chosen, rejected) pair with the pairwise ranking
    loss -log sigmoid(r_chosen - r_rejected).

    ``eval_fraction``: the share of PROMPTS (not pairs) held out for the pairwise accuracy,
    so no prompt is on both sides; 0 trains on everything and reports no held-out figure.
    ``bf16`` / ``gradient_checkpointing``: None follows the device, as in ``TrainConfig``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(default=1e-5, gt=0.0)
    optimizer: str = "adamw_torch"  # any transformers ``optim`` name
    lr_scheduler: str = "linear"
    warmup_steps: int = Field(default=0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    epochs: float = Field(default=1.0, gt=0.0)  # InstructGPT: one epoch (more overfits the RM)
    max_steps: int | None = Field(default=None, ge=1)  # overrides epochs when set
    batch_size: int = Field(default=4, ge=1)  # pairs per device step
    grad_accum: int = Field(default=1, ge=1)
    max_length: int = Field(default=1024, ge=8)  # longer (prompt, response) sequences keep their last tokens
    center_rewards_coefficient: float | None = Field(default=None, ge=0.0)
    eval_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    eval_batch_size: int = Field(default=8, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool | None = None
    gradient_checkpointing: bool | None = None

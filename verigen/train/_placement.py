"""Where and how a TRL trainer runs, shared by the M-step (SFT), DPO and the reward model:
the device, the CPU threads, bf16 and gradient checkpointing following the device (TRL 1.16
turns both on by default, which a CPU cannot use), and the TrainingArguments every verigen
trainer sets the same way."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from verigen.errors import UsageError


class TrainerKnobs(Protocol):
    """The settings TrainConfig, DPOTrainConfig and RMConfig share (read only)."""

    @property
    def device(self) -> str: ...

    @property
    def bf16(self) -> bool | None: ...

    @property
    def gradient_checkpointing(self) -> bool | None: ...

    @property
    def epochs(self) -> float: ...

    @property
    def max_steps(self) -> int | None: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def grad_accum(self) -> int: ...

    @property
    def learning_rate(self) -> float: ...

    @property
    def optimizer(self) -> str: ...

    @property
    def lr_scheduler(self) -> str: ...

    @property
    def warmup_steps(self) -> int: ...

    @property
    def weight_decay(self) -> float: ...

    @property
    def seed(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    device: str  # "cpu" or "cuda"
    bf16: bool
    gradient_checkpointing: bool

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"


def device_of(cfg: TrainerKnobs, section: str) -> str:
    """``cfg.device`` resolved ("auto": CUDA when torch sees one); ``section`` names the
    config section in errors (``train``, ``rm``)."""
    import torch

    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"{section}.device 'cuda' requested but torch sees no CUDA GPU")
    return cfg.device


def place(cfg: TrainerKnobs, section: str) -> Placement:
    """The device, and bf16 / gradient checkpointing on only where they work (CUDA) unless
    set; on the CPU, torch's threads as the samplers use them (an explicit OMP_NUM_THREADS
    is left alone). Also quiets the progress bars of datasets and transformers."""
    import datasets
    import torch
    from transformers.utils import logging as hf_logging

    from verigen.sampling.hf import cpu_threads

    datasets.disable_progress_bars()  # verigen draws its own progress
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    device = device_of(cfg, section)
    cuda = device == "cuda"
    if not cuda and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cpu_threads())
    bf16 = cfg.bf16 if cfg.bf16 is not None else (cuda and torch.cuda.is_bf16_supported())
    if bf16 and not cuda:
        raise UsageError(f"{section}.bf16=true needs a CUDA device ({section}.device)")
    checkpointing = cfg.gradient_checkpointing if cfg.gradient_checkpointing is not None else cuda
    return Placement(device=device, bf16=bf16, gradient_checkpointing=checkpointing)


def trainer_arguments(cfg: TrainerKnobs, out: Path, placement: Placement) -> dict[str, Any]:
    """The TrainingArguments every verigen trainer sets alike (each adds its own)."""
    return {
        "output_dir": str(out / "trainer"), "num_train_epochs": cfg.epochs, "max_steps": cfg.max_steps or -1,
        "per_device_train_batch_size": cfg.batch_size, "gradient_accumulation_steps": cfg.grad_accum,
        "learning_rate": cfg.learning_rate, "optim": cfg.optimizer, "lr_scheduler_type": cfg.lr_scheduler,
        "warmup_steps": cfg.warmup_steps, "weight_decay": cfg.weight_decay, "bf16": placement.bf16,
        "gradient_checkpointing": placement.gradient_checkpointing, "use_cpu": not placement.cuda,
        "seed": cfg.seed, "data_seed": cfg.seed, "report_to": [], "save_strategy": "no", "logging_steps": 1,
        "dataloader_num_workers": 0, "disable_tqdm": True,
    }

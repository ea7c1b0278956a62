"""Preference training: DPO (Rafailov et al. 2023) on preference pairs through TRL's
``DPOTrainer``; the self-rewarding loop's training step.

A pair row is conversational: ``{"prompt": [messages], "chosen": [assistant message],
"rejected": [assistant message]}`` (extra keys such as ``provenance`` are ignored). The
reference model is the model being trained, as it was before training (TRL's default when
no ``ref_model`` is given).

The layout of ``out`` and the resume rule are the SFT M-step's (``verigen.train._sft``):
``checkpoint/`` (loadable as ``--model``), ``trainer/``, ``train-started.json`` before
training and ``train.json`` written last; a finished directory with the same data, model
and config is returned without training again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import Field

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.rundir import atomic_write
from verigen.train._config import TrainConfig
from verigen.train._placement import place, trainer_arguments
from verigen.train._sft import (
    CHECKPOINT,
    MANIFEST,
    STARTED,
    TrainResult,
    _lora,
    _result,
    _save,
    _versions,
    checkpoint_sha256,
    file_sha256,
    finished,
)
from verigen.types import JSONValue


class DPOTrainConfig(TrainConfig):
    """``TrainConfig`` plus DPO's own settings; the defaults follow Self-Rewarding LMs
    (beta 0.1, a small learning rate, one epoch). ``completion_only_loss`` is not used."""

    beta: float = Field(default=0.1, gt=0.0)
    loss_type: str = "sigmoid"  # TRL's loss names: sigmoid (DPO), ipo, hinge, ...
    learning_rate: float = Field(default=1e-6, gt=0.0)
    epochs: float = Field(default=1.0, gt=0.0)
    batch_size: int = Field(default=2, ge=1)


def read_pairs(path: Path) -> list[dict[str, JSONValue]]:
    """Preference rows as TRL conversational rows; a bad row is a ``UsageError`` naming its line."""
    if not path.is_file():
        raise UsageError(f"--data {str(path)!r} is not a file")
    rows: list[dict[str, JSONValue]] = []
    for line, row in read_jsonl(path):
        where = f"{path}:{line}"
        clean: dict[str, JSONValue] = {}
        for key in ("prompt", "chosen", "rejected"):
            messages = row.get(key)
            if not isinstance(messages, list) or not messages:
                raise UsageError(f"{where}: a preference row needs a non-empty message list {key!r}")
            for m in messages:
                if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
                    raise UsageError(f"{where}: bad message {m!r} in {key!r} (needs string 'role' and 'content')")
            clean[key] = [{"role": m["role"], "content": m["content"]} for m in messages if isinstance(m, dict)]
        for key in ("chosen", "rejected"):
            last = row[key][-1]  # type: ignore[index]
            if not isinstance(last, dict) or last.get("role") != "assistant":
                raise UsageError(f"{where}: {key!r} must end with the assistant's message")
        rows.append(clean)
    if not rows:
        raise UsageError(f"--data {str(path)!r} has no preference pairs to train on")
    return rows


def train_dpo(data: Path, model: str, out: Path, config: DPOTrainConfig | None = None) -> TrainResult:
    """DPO of ``model`` (a ``--model`` spec) on the pairs in ``data``; the checkpoint goes
    to ``out/checkpoint``. Returns the finished one when ``out`` already holds it."""
    cfg = config or DPOTrainConfig()
    rows = read_pairs(data)
    data_sha = file_sha256(data)
    cfg_json = json.loads(cfg.model_dump_json())
    done = finished(out)
    if done is not None:
        if done.get("data_sha256") != data_sha or done.get("config") != cfg_json or done.get("base_model") != model:
            raise UsageError(
                f"--out {str(out)!r} already holds a checkpoint trained on other data, model or config; use a new --out"
            )
        return _result(out, done, cfg, reused=True)
    from verigen.sampling.model_store import materialize, resolve_model

    source = materialize(resolve_model(model))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / STARTED, json.dumps({"method": "dpo", "data": str(data), "data_sha256": data_sha,
                                            "base_model": model, "config": cfg_json}, indent=2) + "\n")
    started = time.perf_counter()
    steps, loss, device = _fit(rows, source, out, cfg)
    checkpoint = out / CHECKPOINT
    manifest: dict[str, JSONValue] = {
        "method": "dpo", "checkpoint": str(checkpoint), "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "data": str(data), "data_sha256": data_sha, "rows": len(rows), "base_model": model,
        "base_source": source, "steps": steps, "train_loss": loss,
        "seconds": round(time.perf_counter() - started, 3), "device": device, "config": cfg_json,
        "versions": _versions(),
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return _result(out, manifest, cfg, reused=False)


def _fit(rows: list[dict[str, JSONValue]], source: str, out: Path, cfg: DPOTrainConfig) -> tuple[int, float | None, str]:
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer  # type: ignore[attr-defined]

    placement = place(cfg, "train")
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(f"model {source!r} has no chat template: conversational preference rows need one")
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    args = DPOConfig(**trainer_arguments(cfg, out, placement), max_length=cfg.max_length, beta=cfg.beta,
                     loss_type=[cfg.loss_type])
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer, peft_config=_lora(cfg),
    )
    result = trainer.train()
    _save(trainer.model, tokenizer, out, cfg)
    loss = float(result.training_loss) if result.training_loss == result.training_loss else None
    return int(result.global_step), loss, placement.device

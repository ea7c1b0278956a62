"""The M-step: supervised fine-tuning on an SFT export through TRL's ``SFTTrainer``.

An SFT row (verigen/export) is ``{"messages": [...prompt, assistant]}``; it is handed to TRL
as a conversational prompt-completion row (``prompt`` = every message before the last,
``completion`` = the last, the assistant's), so ``completion_only_loss`` puts the loss on
the completion tokens only, whatever the chat template.

Layout of ``out``: ``checkpoint/`` (safetensors weights, config, tokenizer: loadable by the
transformers and vllm samplers as ``--model``), ``trainer/`` (TRL's scratch and logs), and
``train.json``, written last: a directory with ``train.json`` holds a finished M-step, which a
second call with the same data and config returns without training again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.rundir import atomic_write
from verigen.train._config import TrainConfig
from verigen.train._placement import place, trainer_arguments
from verigen.types import JSONValue

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint"
MANIFEST = "train.json"
STARTED = "train-started.json"
_TMP = ".checkpoint.tmp"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainResult:
    out: Path
    checkpoint: Path
    checkpoint_sha256: str
    data: Path
    data_sha256: str
    rows: int
    base_model: str
    steps: int
    train_loss: float | None
    seconds: float
    device: str
    config: TrainConfig
    reused: bool  # True: a finished M-step found in ``out``, nothing trained

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "checkpoint": str(self.checkpoint), "checkpoint_sha256": self.checkpoint_sha256,
            "data": str(self.data), "data_sha256": self.data_sha256, "rows": self.rows,
            "base_model": self.base_model, "steps": self.steps, "train_loss": self.train_loss,
            "seconds": round(self.seconds, 3), "device": self.device,
            "config": json.loads(self.config.model_dump_json()),
        }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_sha256(folder: Path) -> str:
    """One hash over the weight files (name and content) of a checkpoint folder."""
    h = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise UsageError(f"checkpoint {str(folder)!r} has no .safetensors weights")
    for f in files:
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode() + b"\n")
    return h.hexdigest()


def read_sft(path: Path) -> list[dict[str, JSONValue]]:
    """``messages`` rows as TRL conversational prompt-completion rows; a bad row is a
    ``UsageError`` naming its line."""
    if not path.is_file():
        raise UsageError(f"--data {str(path)!r} is not a file")
    rows: list[dict[str, JSONValue]] = []
    for line, row in read_jsonl(path):
        messages = row.get("messages")
        where = f"{path}:{line}"
        if not isinstance(messages, list) or len(messages) < 2:
            raise UsageError(f"{where}: an SFT row needs 'messages' with a prompt and an assistant answer")
        for m in messages:
            if not (isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
                raise UsageError(f"{where}: bad message {m!r} (needs string 'role' and 'content')")
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "assistant":
            raise UsageError(f"{where}: the last message must be the assistant's, not {last!r}")
        clean = [{"role": m["role"], "content": m["content"]} for m in messages if isinstance(m, dict)]
        rows.append({"prompt": list(clean[:-1]), "completion": [clean[-1]]})
    if not rows:
        raise UsageError(f"--data {str(path)!r} has no rows to train on")
    return rows


def finished(out: Path) -> dict[str, JSONValue] | None:
    """The manifest of a finished M-step in ``out``, or None."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not (out / CHECKPOINT / "config.json").is_file():
        return None
    return data


def train_sft(data: Path, model: str, out: Path, config: TrainConfig | None = None) -> TrainResult:
    """Fine-tune ``model`` (a ``--model`` spec) on the SFT export ``data``; the checkpoint
    goes to ``out/checkpoint``. Returns the finished one when ``out`` already holds it."""
    cfg = config or TrainConfig()
    rows = read_sft(data)
    data_sha = file_sha256(data)
    cfg_json = json.loads(cfg.model_dump_json())
    done = finished(out)
    if done is not None:
        if done.get("data_sha256") != data_sha or done.get("config") != cfg_json or done.get("base_model") != model:
            raise UsageError(
                f"--out {str(out)!r} already holds a checkpoint trained on other data, model or config; "
                "use a new --out"
            )
        return _result(out, done, cfg, reused=True)
    from verigen.sampling.model_store import materialize, resolve_model

    source = materialize(resolve_model(model))
    out.mkdir(parents=True, exist_ok=True)
    # What this M-step is, on disk before it starts (a killed one is retrained from scratch).
    atomic_write(out / STARTED, json.dumps({"data": str(data), "data_sha256": data_sha, "base_model": model,
                                            "config": cfg_json}, indent=2) + "\n")
    started = time.perf_counter()
    steps, loss, device = _fit(rows, source, out, cfg)
    checkpoint = out / CHECKPOINT
    manifest: dict[str, JSONValue] = {
        "checkpoint": str(checkpoint), "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "data": str(data), "data_sha256": data_sha, "rows": len(rows), "base_model": model,
        "base_source": source, "steps": steps, "train_loss": loss,
        "seconds": round(time.perf_counter() - started, 3), "device": device, "config": cfg_json,
        "versions": _versions(),
    }
    atomic_write(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return _result(out, manifest, cfg, reused=False)


def _result(out: Path, m: dict[str, JSONValue], cfg: TrainConfig, *, reused: bool) -> TrainResult:
    loss = m.get("train_loss")
    steps = m.get("steps")
    rows = m.get("rows")
    seconds = m.get("seconds")
    return TrainResult(
        out=out, checkpoint=out / CHECKPOINT, checkpoint_sha256=str(m.get("checkpoint_sha256")),
        data=Path(str(m.get("data"))), data_sha256=str(m.get("data_sha256")),
        rows=rows if isinstance(rows, int) else 0, base_model=str(m.get("base_model")),
        steps=steps if isinstance(steps, int) else 0, train_loss=float(loss) if isinstance(loss, (int, float)) else None,
        seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0, device=str(m.get("device")),
        config=cfg, reused=reused,
    )


def _versions() -> dict[str, JSONValue]:
    from importlib import metadata

    out: dict[str, JSONValue] = {}
    for dist in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _fit(rows: list[dict[str, JSONValue]], source: str, out: Path, cfg: TrainConfig) -> tuple[int, float | None, str]:
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]

    placement = place(cfg, "train")
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(f"model {source!r} has no chat template: conversational SFT rows need one")
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    args = SFTConfig(**trainer_arguments(cfg, out, placement), max_length=cfg.max_length,
                     completion_only_loss=cfg.completion_only_loss)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer, peft_config=_lora(cfg),
    )
    result = trainer.train()
    _save(trainer.model, tokenizer, out, cfg)
    loss = float(result.training_loss) if result.training_loss == result.training_loss else None
    return int(result.global_step), loss, placement.device


def _lora(cfg: TrainConfig) -> Any:
    if cfg.method != "lora":
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_target_modules), task_type="CAUSAL_LM",
    )


def _save(model: Any, tokenizer: Any, out: Path, cfg: TrainConfig) -> None:
    """Weights (safetensors) and tokenizer into ``out/checkpoint``, through a temp folder
    renamed into place, so a killed save never leaves a half checkpoint behind."""
    tmp = out / _TMP
    if tmp.exists():
        shutil.rmtree(tmp)
    if cfg.method == "lora" and cfg.merge_lora:
        model = model.merge_and_unload()
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    final = out / CHECKPOINT
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)

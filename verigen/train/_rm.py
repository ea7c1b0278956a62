"""Reward-model training on preference pairs through TRL's ``RewardTrainer``.

The base model gets a sequence-classification head with one output
(``AutoModelForSequenceClassification``, ``num_labels=1``) and is trained on every
(chosen, rejected) pair with the pairwise ranking loss -log sigmoid(r_chosen - r_rejected)
(TRL's loss; a ranked list contributes each of its ordered pairs, verigen/train/_rm_data.py).
Each pair is one training example: InstructGPT's per-prompt weighting of the C(K, 2)
comparisons is not applied.

The pairs are tokenized here (``_rm_score.encode``), not by TRL, so training and
``--select rm`` see exactly the same tokens. A share of the prompts is held out
(``RMConfig.eval_fraction``); the pairwise accuracy on their pairs is measured before and
after training.

Layout of ``out``: ``checkpoint/`` (safetensors weights, config, tokenizer), ``trainer/``
(TRL's scratch), and ``train-rm.json`` written last: a folder with it holds a finished
reward model, which a second call with the same data, base model and config returns as is.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.rundir import atomic_write
from verigen.train._config import RMConfig
from verigen.train._placement import place, trainer_arguments
from verigen.train._rm_data import PreferencePair, read_preferences, split_by_prompt
from verigen.train._rm_score import RM_CHECKPOINT, RM_MANIFEST, RewardScorer, encode, pad_id, pairwise_accuracy
from verigen.train._sft import _versions, checkpoint_sha256, file_sha256
from verigen.types import ChatMessage, JSONValue

STARTED = "train-rm-started.json"
_TMP = ".checkpoint.tmp"


@dataclass(frozen=True, slots=True, kw_only=True)
class RMResult:
    out: Path
    checkpoint: Path
    manifest: dict[str, JSONValue]  # train-rm.json as written
    reused: bool  # True: a finished reward model found in ``out``, nothing trained

    @property
    def heldout_accuracy(self) -> float | None:
        held = self.manifest.get("heldout")
        value = held.get("accuracy") if isinstance(held, dict) else None
        return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fit:
    steps: int
    losses: list[float]  # per logged step
    before: float | None  # held-out pairwise accuracy of the untrained head
    after: float | None
    device: str


def finished_rm(out: Path) -> dict[str, JSONValue] | None:
    try:
        data = json.loads((out / RM_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not (out / RM_CHECKPOINT / "config.json").is_file():
        return None
    return data


def train_rm(data: Path, model: str, out: Path, config: RMConfig | None = None) -> RMResult:
    """Train a reward model from ``model`` (a ``--model`` spec) on the preference file ``data``."""
    cfg = config or RMConfig()
    pairs = read_preferences(data)
    train, heldout = split_by_prompt(pairs, cfg.eval_fraction, cfg.seed)
    data_sha = file_sha256(data)
    cfg_json = json.loads(cfg.model_dump_json())
    done = finished_rm(out)
    if done is not None:
        if done.get("data_sha256") != data_sha or done.get("config") != cfg_json or done.get("base_model") != model:
            raise UsageError(f"--out {str(out)!r} already holds a reward model trained on other data, model or config; "
                             "use a new --out")
        return RMResult(out=out, checkpoint=out / RM_CHECKPOINT, manifest=done, reused=True)
    from verigen.sampling.model_store import materialize, resolve_model

    source = materialize(resolve_model(model))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / STARTED, json.dumps({"data": str(data), "data_sha256": data_sha, "base_model": model,
                                            "config": cfg_json}, indent=2) + "\n")
    started = time.perf_counter()
    fit = _fit(train, heldout, source, out, cfg)
    checkpoint = out / RM_CHECKPOINT
    manifest: dict[str, JSONValue] = {
        "checkpoint": str(checkpoint), "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "data": str(data), "data_sha256": data_sha, "base_model": model, "base_source": source,
        "seed": cfg.seed, "pairs": len(pairs),
        "train": {"pairs": len(train), "prompts": len({p.prompt_key for p in train})},
        "heldout": {"pairs": len(heldout), "prompts": len({p.prompt_key for p in heldout}),
                    "split": "by prompt", "accuracy": fit.after, "accuracy_before": fit.before},
        "steps": fit.steps, "loss_first": fit.losses[0] if fit.losses else None,
        "loss_last": fit.losses[-1] if fit.losses else None,
        "train_loss": sum(fit.losses) / len(fit.losses) if fit.losses else None,
        "seconds": round(time.perf_counter() - started, 3), "device": fit.device, "config": cfg_json,
        "versions": _versions(),
    }
    atomic_write(out / RM_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return RMResult(out=out, checkpoint=checkpoint, manifest=manifest, reused=False)


def _accuracy(scorer: RewardScorer, pairs: Sequence[PreferencePair]) -> float | None:
    if not pairs:
        return None
    unique: dict[tuple[str, str], int] = {}  # a ranked list repeats each response in many pairs
    items: list[tuple[tuple[ChatMessage, ...], str]] = []
    for p in pairs:
        for text in (p.chosen, p.rejected):
            if unique.setdefault((p.prompt_key, text), len(items)) == len(items):
                items.append((p.prompt, text))
    scores = scorer.scores(items)
    chosen = [scores[unique[(p.prompt_key, p.chosen)]] for p in pairs]
    rejected = [scores[unique[(p.prompt_key, p.rejected)]] for p in pairs]
    return pairwise_accuracy(chosen, rejected)


def _fit(train: list[PreferencePair], heldout: list[PreferencePair], source: str, out: Path, cfg: RMConfig) -> _Fit:
    import datasets
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed
    from trl import RewardConfig, RewardTrainer  # type: ignore[attr-defined]

    placement = place(cfg, "rm")
    device = placement.device
    tok = AutoTokenizer.from_pretrained(source)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    set_seed(cfg.seed)  # the new head's initial weights
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = pad_id(tok)
    model.to(device)
    scorer = RewardScorer.from_model(model, tok, max_length=cfg.max_length, device=device, batch_size=cfg.eval_batch_size)
    before = _accuracy(scorer, heldout)
    rows = [{"chosen_ids": encode(tok, p.prompt, p.chosen, cfg.max_length),
             "rejected_ids": encode(tok, p.prompt, p.rejected, cfg.max_length)} for p in train]
    args = RewardConfig(**trainer_arguments(cfg, out, placement), max_length=cfg.max_length,
                        center_rewards_coefficient=cfg.center_rewards_coefficient)
    trainer = RewardTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                            processing_class=tok)
    result = trainer.train()
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    trained = trainer.model
    scorer = RewardScorer.from_model(trained, tok, max_length=cfg.max_length, device=device, batch_size=cfg.eval_batch_size)
    after = _accuracy(scorer, heldout)
    _save(trained, tok, out)
    return _Fit(steps=int(result.global_step), losses=losses, before=before, after=after, device=device)


def _save(model: Any, tok: Any, out: Path) -> None:
    """Weights (safetensors) and tokenizer into ``out/checkpoint`` through a temp folder."""
    tmp = out / _TMP
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    final = out / RM_CHECKPOINT
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)

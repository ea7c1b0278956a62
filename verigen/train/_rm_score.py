"""Reward-model scores of (prompt, response): the one encoding training and selection share.

A (prompt, response) pair is the chat ``[*prompt, {"role": "assistant", "content": response}]``
through the tokenizer's chat template (what TRL's ``RewardTrainer`` does with a
conversational row), or, for a tokenizer without one, the prompt texts, the response and the
end token. A sequence longer than ``max_length`` keeps its LAST tokens: the reward head reads
the last token, and the response is the part being judged. The score is the model's single
logit (``num_labels=1``) at the last non-padding token.

torch and transformers are imported only when scoring runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.types import ChatMessage

RM_MANIFEST = "train-rm.json"
RM_CHECKPOINT = "checkpoint"
DEFAULT_MAX_LENGTH = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardModelRef:
    """A reward model on disk: its weights folder and the length it was trained with."""

    path: Path
    max_length: int


def resolve_reward_model(spec: str, *, option: str = "--rm-model") -> RewardModelRef:
    """A ``train-rm`` output folder (its ``checkpoint/``) or a sequence-classification model
    folder with one output; anything else is a ``UsageError`` naming ``option``."""
    folder = Path(spec)
    max_length = DEFAULT_MAX_LENGTH
    manifest = folder / RM_MANIFEST
    if not manifest.is_file() and (folder.parent / RM_MANIFEST).is_file():
        manifest = folder.parent / RM_MANIFEST
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            length = data["config"]["max_length"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UsageError(f"{option} {spec!r}: unreadable {str(manifest)!r}") from None
        max_length = int(length) if isinstance(length, int) else DEFAULT_MAX_LENGTH
        if (folder / RM_CHECKPOINT).is_dir():
            folder = folder / RM_CHECKPOINT
    config = folder / "config.json"
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"{option} {spec!r} is not a reward model (no readable {str(config)!r}: "
                         "give a `verigen train-rm` output folder or its checkpoint/)") from None
    archs = cfg.get("architectures") if isinstance(cfg, dict) else None
    labels = cfg.get("id2label") if isinstance(cfg, dict) else None
    if not (isinstance(archs, list) and any(str(a).endswith("ForSequenceClassification") for a in archs)):
        raise UsageError(f"{option} {spec!r} is not a sequence-classification model (architectures {archs!r}); "
                         "a causal LM scores --select likelihood (--scorer-model) instead")
    if isinstance(labels, dict) and len(labels) != 1:
        raise UsageError(f"{option} {spec!r} has {len(labels)} outputs; a reward model has one (num_labels=1)")
    return RewardModelRef(path=folder, max_length=max_length)


def encode(tok: Any, prompt: Sequence[ChatMessage], response: str, max_length: int) -> list[int]:
    """Token ids of (prompt, response), the last ``max_length`` of them."""
    chat = [*(m.to_json() for m in prompt), {"role": "assistant", "content": response}]
    if getattr(tok, "chat_template", None):
        ids = tok.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
    else:
        text = "\n\n".join(m["content"] for m in chat) + (tok.eos_token or "")
        ids = tok(text)["input_ids"]
    ids = [int(i) for i in ids]
    return ids[-max_length:]


def pad_id(tok: Any) -> int:
    pid = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    return int(pid) if pid is not None else 0


class RewardScorer:
    """A loaded reward model: ``scores(pairs)`` -> one float per (prompt, response)."""

    def __init__(self, ref: RewardModelRef, *, device: str = "cpu", batch_size: int = 8) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self._torch = torch
        self.ref, self.device, self.batch_size = ref, device, batch_size
        self.tok = AutoTokenizer.from_pretrained(str(ref.path))
        model = AutoModelForSequenceClassification.from_pretrained(str(ref.path), dtype=torch.float32)
        if model.config.pad_token_id is None:  # a model from elsewhere: the head needs it to find the last token
            model.config.pad_token_id = pad_id(self.tok)
        self.model = model.to(device).eval()

    @classmethod
    def from_model(cls, model: Any, tok: Any, *, max_length: int, device: str, batch_size: int) -> RewardScorer:
        """Score with a model already in memory (the trainer's, right after training)."""
        import torch

        self = cls.__new__(cls)
        self._torch = torch
        self.ref = RewardModelRef(path=Path("."), max_length=max_length)
        self.device, self.batch_size, self.tok, self.model = device, batch_size, tok, model
        return self

    def scores(self, pairs: Sequence[tuple[Sequence[ChatMessage], str]]) -> list[float]:
        torch = self._torch
        encoded = [encode(self.tok, p, r, self.ref.max_length) for p, r in pairs]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # batches of similar lengths pad less
        out: dict[int, float] = {}
        was_training = bool(self.model.training)
        self.model.eval()
        pad = int(self.model.config.pad_token_id)
        try:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(encoded[i]) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # right padding, as TRL's preference collator
                    ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                    mask[row, : len(encoded[i])] = 1
                with torch.no_grad():
                    logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
                for row, i in enumerate(batch):
                    out[i] = float(logits[row, 0])
        finally:
            self.model.train(was_training)
        return [out[i] for i in range(len(encoded))]


def reward_scores(spec: str, pairs: Sequence[tuple[Sequence[ChatMessage], str]], *, device: str = "cpu",
                  batch_size: int = 8) -> list[float | None]:
    """Scores of each (prompt, response) under the reward model ``spec`` (see
    ``resolve_reward_model``)."""
    scorer = RewardScorer(resolve_reward_model(spec), device=device, batch_size=batch_size)
    return list(scorer.scores(pairs))


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Share of pairs scored chosen > rejected (a tie counts a half)."""
    if len(chosen) != len(rejected) or not chosen:
        raise ValueError("pairwise_accuracy needs two equally long, non-empty score lists")
    wins = sum(1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected, strict=True))
    return wins / len(chosen)

"""The M-step: supervised fine-tuning on verified data through TRL (peft for LoRA), and
DPO on preference pairs (``train_dpo``, the self-rewarding loop's training step).

    result = train_sft(Path("run/sft.jsonl"), "default", Path("ckpt"), TrainConfig(epochs=2))
    # result.checkpoint loads as --model in the transformers and vllm samplers

torch, transformers, trl and peft are imported only when training runs.
"""

from verigen.train._config import TrainConfig
from verigen.train._dpo import DPOTrainConfig, read_pairs, train_dpo
from verigen.train._sft import CHECKPOINT, MANIFEST, TrainResult, checkpoint_sha256, file_sha256, finished, read_sft, train_sft

__all__ = [
    "CHECKPOINT",
    "MANIFEST",
    "DPOTrainConfig",
    "TrainConfig",
    "TrainResult",
    "checkpoint_sha256",
    "file_sha256",
    "finished",
    "read_pairs",
    "read_sft",
    "train_dpo",
    "train_sft",
]

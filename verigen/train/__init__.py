"""The M-step: supervised fine-tuning on verified data through TRL (peft for LoRA), and
DPO on preference pairs (``train_dpo``, the self-rewarding loop's training step), and
reward models trained on preference pairs with the pairwise ranking loss.

    result = train_sft(Path("run/sft.jsonl"), "default", Path("ckpt"), TrainConfig(epochs=2))
    # result.checkpoint loads as --model in the transformers and vllm samplers
    rm = train_rm(Path("run/rm.jsonl"), "default", Path("rm"), RMConfig(epochs=1))
    # rm.heldout_accuracy; Path("rm") plugs into `verigen evaluate --select rm --rm-model rm`

torch, transformers, trl and peft are imported only when training runs.
"""

from verigen.train._config import RMConfig, TrainConfig
from verigen.train._dpo import DPOTrainConfig, read_pairs, train_dpo
from verigen.train._rm import RMResult, finished_rm, train_rm
from verigen.train._rm_data import PreferencePair, read_preferences, split_by_prompt
from verigen.train._rm_score import RewardModelRef, RewardScorer, pairwise_accuracy, resolve_reward_model, reward_scores
from verigen.train._sft import CHECKPOINT, MANIFEST, TrainResult, checkpoint_sha256, file_sha256, finished, read_sft, train_sft

__all__ = [
    "CHECKPOINT",
    "MANIFEST",
    "DPOTrainConfig",
    "PreferencePair",
    "RMConfig",
    "RMResult",
    "RewardModelRef",
    "RewardScorer",
    "TrainConfig",
    "TrainResult",
    "checkpoint_sha256",
    "file_sha256",
    "finished",
    "finished_rm",
    "pairwise_accuracy",
    "read_pairs",
    "read_preferences",
    "read_sft",
    "resolve_reward_model",
    "reward_scores",
    "split_by_prompt",
    "train_dpo",
    "train_rm",
    "train_sft",
]

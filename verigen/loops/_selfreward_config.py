"""``SelfRewardConfig``: a self-rewarding loop's settings ([model], [train] = DPO, [selfreward]),
and the seed prompts it starts from (a prompts file, or a task's train problems)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verigen.config import ArgValue, ModelConfig, Raw, build_from
from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.train._dpo import DPOTrainConfig

PROMPT_KEYS = ("prompt", "instruction", "question", "problem")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelfRewardSection(_Section):
    iterations: int = Field(default=2, ge=1, le=100)
    # Seed prompts: exactly one of a JSONL file and a task (its train split).
    prompts_file: Path | None = None
    task: str | None = None
    task_args: dict[str, ArgValue] = Field(default_factory=dict)
    data_dir: Path | None = None
    seed_limit: int | None = Field(default=None, ge=1)  # at most this many seed prompts
    new_prompts: int = Field(default=16, ge=1)  # prompts the model writes per iteration
    fewshot: int = Field(default=4, ge=1, le=16)  # seed prompts shown per writing request
    n: int = Field(default=4, ge=2, le=64)  # responses per new prompt
    seed: int = 0  # iteration k samples with seed + k
    write_temperature: float = Field(default=0.8, ge=0.0)
    write_max_tokens: int = Field(default=128, ge=1)
    temperature: float = Field(default=0.7, ge=0.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1)
    judge_samples: int = Field(default=1, ge=1, le=16)  # judgements per response, averaged
    judge_temperature: float = Field(default=0.0, ge=0.0)
    judge_max_tokens: int = Field(default=256, ge=1)
    base_model: str | None = None  # the model iteration 1 trains (None: model.name)


class SelfRewardConfig(_Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: DPOTrainConfig = Field(default_factory=DPOTrainConfig)
    selfreward: SelfRewardSection = Field(default_factory=SelfRewardSection)

    @model_validator(mode="after")
    def _one_source(self) -> SelfRewardConfig:
        if (self.selfreward.prompts_file is None) == (self.selfreward.task is None):
            raise ValueError("give exactly one seed-prompt source: --prompts FILE or --task T")
        return self

    @property
    def base_model(self) -> str:
        return self.selfreward.base_model or self.model.name


def build_selfreward_config(*, base: Raw | None = None, overrides: list[str] = (),  # type: ignore[assignment]
                            file: Path | None = None) -> SelfRewardConfig:
    """Defaults <- TOML ``file`` <- ``base`` (CLI options) <- ``--set`` overrides."""
    return build_from(SelfRewardConfig, base=base, overrides=overrides, file=file)


def seed_prompts(section: SelfRewardSection) -> list[str]:
    """The seed prompts, in order, exact duplicates dropped; ``UsageError`` when there are none."""
    prompts = _from_file(section.prompts_file) if section.prompts_file is not None else _from_task(section)
    unique = list(dict.fromkeys(p.strip() for p in prompts if p.strip()))
    if section.seed_limit is not None:
        unique = unique[: section.seed_limit]
    if not unique:
        raise UsageError("selfreward: no seed prompts (the prompts file or task gave none)")
    return unique


def _from_file(path: Path) -> list[str]:
    if not path.is_file():
        raise UsageError(f"--prompts {str(path)!r} is not a file")
    out: list[str] = []
    for line, row in read_jsonl(path):
        text = next((row[k] for k in PROMPT_KEYS if isinstance(row.get(k), str)), None)
        messages = row.get("messages")
        if text is None and isinstance(messages, list):
            users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            text = users[-1] if users and isinstance(users[-1], str) else None
        if not isinstance(text, str):
            raise UsageError(f"{path}:{line}: a seed prompt row needs one of {', '.join(PROMPT_KEYS)} "
                             "(a string) or chat 'messages' with a user turn")
        out.append(text)
    return out


def _from_task(section: SelfRewardSection) -> list[str]:
    from verigen.task import TaskContext, create_task

    task = create_task(str(section.task), {k: str(v) for k, v in section.task_args.items()},
                       TaskContext.from_env(section.data_dir))
    if "train" not in task.splits:
        raise UsageError(f"selfreward: task {section.task!r} has no train split to take seed prompts from")
    out = []
    for p in task.problems(split="train", seed=0):
        out.append(p.prompt)
        if section.seed_limit is not None and len(out) >= 4 * section.seed_limit:  # duplicates are dropped later
            break
    return out

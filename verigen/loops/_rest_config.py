"""``LoopConfig``: a ReST-EM loop's settings. The engine sections ([task], [model],
[sampling], [verify], [sandbox], [output]) mean what they mean for ``generate``: [task] is
the training task, [output] governs the E-step's SFT export (decontamination, near-dup).
[train] is the M-step (``verigen.train.TrainConfig``); [rest] the loop itself."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from verigen.config import (
    ModelConfig,
    OutputConfig,
    Raw,
    SamplingConfig,
    SandboxConfig,
    TaskConfig,
    VerifyConfig,
    build_from,
)
from verigen.train._config import TrainConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestSection(_Section):
    iterations: int = Field(default=2, ge=1, le=100)
    # Held-out tasks, each evaluated after every iteration (split defaults to "test").
    eval_tasks: list[TaskConfig] = Field(default_factory=list)
    eval_train: bool = True  # also evaluate on the training problems (the paper's train curve)
    eval_n: int | None = Field(default=None, ge=1)  # samples per eval problem (None: sampling.n)
    eval_temperature: float | None = Field(default=None, ge=0.0)  # None: sampling.temperature
    # The base model under a K-shot prompt beside the zero-shot curve (0: off); the
    # checkpoints are evaluated with the same prompt, so a format-only gain shows.
    fewshot_baseline: int = Field(default=0, ge=0, le=16)
    max_per_problem: int | None = Field(default=4, ge=1)  # the E-step's cap on solutions per problem
    from_base: bool = True  # the M-step fine-tunes the base model (the paper), else the last iterate
    base_model: str | None = None  # the model the M-step trains (None: model.name)
    seed_stride: int = Field(default=1, ge=0)  # E-step k samples with sampling.seed + k * seed_stride


class LoopConfig(_Section):
    task: TaskConfig = Field(default_factory=TaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    rest: RestSection = Field(default_factory=RestSection)

    @property
    def base_model(self) -> str:
        return self.rest.base_model or self.model.name


def build_loop_config(*, base: Raw | None = None, overrides: list[str] = (), file: Path | None = None) -> LoopConfig:  # type: ignore[assignment]
    """Defaults <- TOML ``file`` <- ``base`` (CLI options) <- ``--set`` overrides."""
    return build_from(LoopConfig, base=base, overrides=overrides, file=file)

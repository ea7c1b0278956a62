"""The typed run configuration: TOML file + ``--set key=value`` overrides.

Unknown keys are rejected everywhere; overrides are checked against the declared types and
a bad one raises ``UsageError`` naming the key and the value.
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from verigen.errors import UsageError
from verigen.types import SamplingParams

ArgValue = Union[str, int, float, bool]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskConfig(_Section):
    name: str = "arithmetic"
    split: str | None = None  # None: "train" for generate, "test" for evaluate
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)
    args: dict[str, ArgValue] = Field(default_factory=dict)
    data_dir: Path | None = None
    # Prompting (verigen.prompting): K worked examples before each question, drawn from the
    # task's train split (or its curated examples), never from the problems being sampled.
    fewshot: int = Field(default=0, ge=0, le=64)
    template: Path | None = None  # a text file holding {problem}
    template_sha256: str | None = None  # fixed when the run is planned; a changed file is refused
    system_prompt: str | None = None  # None: the task's own; "": none


class ModelConfig(_Section):
    """``backend`` and ``name``; every other key belongs to the backend.

    The other keys are validated against the chosen backend's own ``Options`` schema when
    the run is planned (``verigen.sampling.base.parse_options``): unknown keys are
    rejected there, naming the backend and the keys it allows.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str = "transformers"
    name: str = "default"

    def options(self) -> dict[str, object]:
        """The backend-specific keys, as written."""
        return dict(self.model_extra or {})


class SamplingConfig(_Section):
    n: int = Field(default=4, ge=1, le=10_000)
    temperature: float = Field(default=0.7, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1)
    stop: list[str] = Field(default_factory=list)
    seed: int = 0

    def params(self) -> SamplingParams:
        return SamplingParams(
            n=self.n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=tuple(self.stop),
            seed=self.seed,
        )


class VerifyConfig(_Section):
    # Checks in flight. None: as many as suit the verifier (``verigen.verify.pool.default_workers``):
    # one process per CPU core for in-process verifiers (math), two per core for sandboxed
    # ones (code, puzzles: a sandbox runner per check in flight, mostly waiting on IPC).
    workers: int | None = Field(default=None, ge=1)
    time_limit_s: float = Field(default=5.0, gt=0.0)
    max_error_rate: float = Field(default=0.05, ge=0.0, le=1.0)


class SandboxConfig(_Section):
    backend: str = "auto"


ExportFormat = Literal["sft", "dpo", "rm", "hf"]
Negative = Literal["rejected", "no_answer", "timeout"]
Benchmark = str  # a name from verigen.decontam (gsm8k, math, math500, ...) or a JSONL path


class NearDupConfig(_Section):
    """Near-duplicate removal among a problem's accepted solutions (MinHash LSH, then the
    exact Jaccard of word n-gram sets confirms every candidate pair)."""

    enabled: bool = True
    threshold: float = Field(default=0.7, gt=0.0, le=1.0)  # Jaccard similarity of the word n-gram sets
    ngram: int = Field(default=3, ge=1, le=32)  # word shingles
    num_perm: int = Field(default=128, ge=16, le=1024)


class PairsConfig(_Section):
    """How DPO / reward-model pairs are formed from a problem's samples."""

    pairing: Literal["all", "one_per_problem", "balanced"] = "balanced"
    max_per_problem: int | None = Field(default=8, ge=1)
    negatives: list[Negative] = Field(default_factory=lambda: list[Negative](["rejected", "no_answer"]))
    seed: int = 0


class DecontamConfig(_Section):
    """Word n-gram overlap against held-out benchmarks, before anything is exported."""

    enabled: bool = True
    against: list[Benchmark] = Field(
        default_factory=lambda: ["gsm8k", "math", "math500", "humaneval", "mbpp", "p3"]
    )
    ngram: int = Field(default=13, ge=3, le=64)
    min_shared: int = Field(default=1, ge=1)  # shared n-grams with one item that make a row contaminated
    allow_heldout: bool = False  # training on a held-out benchmark split itself


class OutputConfig(_Section):
    out: Path | None = None  # None: runs/<task>-<split>-<mode>, fixed when the run is planned
    max_per_problem: int | None = Field(default=None, ge=1)
    dedup: bool = True
    formats: list[ExportFormat] = Field(default_factory=lambda: list[ExportFormat](["sft"]))  # what `generate` writes
    near_dup: NearDupConfig = Field(default_factory=NearDupConfig)
    pairs: PairsConfig = Field(default_factory=PairsConfig)
    decontam: DecontamConfig = Field(default_factory=DecontamConfig)
    report_html: bool = True
    report_plots: bool = True


class RunConfig(_Section):
    mode: Literal["generate", "evaluate"] = "generate"
    task: TaskConfig = Field(default_factory=TaskConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)


Raw = dict[str, object]


def load_toml(path: Path) -> Raw:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def _field_annotation(path: list[str], root: type[BaseModel] | None = None) -> object | None:
    """The declared type at a dotted path of ``root`` (RunConfig), or None when the path is unknown."""
    model: type[BaseModel] = root or RunConfig
    annotation: object | None = None
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            if i > 0 and path[i - 1] == "args":
                return ArgValue
            if model is ModelConfig and i == len(path) - 1:
                return ArgValue  # a backend option: typed by the backend's schema at plan time
            return None
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif i < len(path) - 1 and part != "args":
            return None
    return annotation


def _is_text_type(annotation: object) -> bool:
    if annotation in (str, Path):
        return True
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and args[0] in (str, Path)
    return False


def apply_override(raw: Raw, assignment: str, root: type[BaseModel] | None = None) -> Raw:
    """Apply one ``a.b.c=value`` to ``raw`` (a new dict); values are typed by the schema
    of ``root`` (RunConfig unless another config model is given)."""
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"bad --set {assignment!r}: expected KEY=VALUE, e.g. sampling.n=8")
    path = key.split(".")
    annotation = _field_annotation(path, root)
    if annotation is None:
        raise UsageError(f"bad --set {key}={text}: unknown config key {key!r}")
    value: object
    if _is_text_type(annotation):
        value = text
    elif text.lower() in ("none", "null") and "None" in repr(annotation):
        value = None
    else:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
    out: Raw = json.loads(json.dumps(raw, default=str))
    node = out
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"bad --set {key}={text}: {part!r} is not a section")
        node = child
    node[path[-1]] = value
    return out


def describe_error(exc: ValidationError, raw: Raw) -> str:
    """One line naming the first bad key and its value (for any config model)."""
    return _describe(exc, raw)


def _describe(exc: ValidationError, raw: Raw) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    value: object = raw
    for part in err["loc"]:
        if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            value = value.get(str(part), "<missing>") if isinstance(value, dict) else "<missing>"
    if err["type"] == "extra_forbidden":
        return f"unknown config key {loc!r}"
    return f"bad config value {loc}={value!r}: {err['msg']}"


M = TypeVar("M", bound=BaseModel)


def build_from(
    model: type[M], *, base: Raw | None = None, overrides: list[str] = (), file: Path | None = None  # type: ignore[assignment]
) -> M:
    """A ``model`` config (RunConfig, or another model built from the same sections):
    defaults <- TOML ``file`` <- ``base`` (CLI options) <- ``--set`` overrides typed by ``model``."""
    raw: Raw = load_toml(file) if file is not None else {}
    for section, values in (base or {}).items():
        if isinstance(values, dict):
            merged = dict(raw.get(section, {}) or {})  # type: ignore[call-overload]
            merged.update(values)
            raw[section] = merged
        else:
            raw[section] = values
    for assignment in overrides:
        raw = apply_override(raw, assignment, root=model)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where = f" in {file}" if file is not None else ""
        raise UsageError(_describe(exc, raw) + where) from None


def build_config(
    *, base: Raw | None = None, overrides: list[str] = (), file: Path | None = None  # type: ignore[assignment]
) -> RunConfig:
    """Defaults <- TOML ``file`` <- ``base`` (CLI options) <- ``--set`` overrides."""
    return build_from(RunConfig, base=base, overrides=overrides, file=file)


def to_toml_dict(config: RunConfig) -> Raw:
    """The config as TOML-writable data (None values left out: TOML has no null)."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = strip(config.model_dump(mode="json"))
    assert isinstance(data, dict)
    return data

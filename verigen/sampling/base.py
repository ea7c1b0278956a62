"""The Sampler protocol: a language model that completes chat prompts, streaming.

The engine hands a sampler every pending request at once; the sampler yields one
``SampleOutput`` per requested sample as soon as it is finished, in any order (vLLM keeps
continuous batching busy, an HTTP backend keeps many requests in flight, the transformers
backend batches internally). Sample ``i`` of a problem is drawn with the seed
``sample_seed(params.seed, problem_id, i)`` wherever the backend can seed one sample
(see each backend for what holds where it cannot).

A backend is a class registered under the ``verigen.samplers`` entry point with:

- ``Options``: a ``SamplerOptions`` subclass, the schema of the config's ``[model]`` keys
  beyond ``backend`` and ``name`` (unknown keys are rejected);
- ``check(model, options)``: a cheap classmethod that raises ``UsageError`` for a bad
  model or option (no model is loaded: ``plan`` calls it before anything is written);
- ``__init__(model, options)``: loads the model (slow).

Backend modules import their heavy libraries inside methods, so reading ``Options`` and
calling ``check`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, cast, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from verigen import registry
from verigen.errors import UsageError
from verigen.sampling.seeds import sample_seed
from verigen.types import ChatMessage, Completion, GenerationRequest, JSONValue, SamplingParams


class SamplerOptions(BaseModel):
    """Base of a backend's ``[model]`` options: typed, frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRequest:
    """Some samples of one problem: which ones (``indices``) and the conversation."""

    problem_id: str
    messages: tuple[ChatMessage, ...]
    indices: tuple[int, ...]

    def seeds(self, params: SamplingParams) -> tuple[int, ...]:
        """The per-sample seeds of ``indices`` (see ``verigen.sampling.seeds``)."""
        return tuple(sample_seed(params.seed, self.problem_id, i) for i in self.indices)


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleOutput:
    """One finished sample: sample ``index`` of problem ``problem_id``."""

    problem_id: str
    index: int
    completion: Completion
    latency_s: float | None = None


@runtime_checkable
class Sampler(Protocol):
    """An open, loaded backend. ``model_id`` is what provenance records."""

    name: str
    model_id: str

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        """One output per (request, index), in any order, each as soon as it is done.

        Closing the iterator early cancels what is left.
        """
        ...

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        """What the backend was asked for, as sent (options, request fields; no secrets)."""
        ...

    def close(self) -> None: ...


class SamplerFactory(Protocol):
    """A sampler class as the registry hands it out."""

    name: ClassVar[str]
    Options: type[SamplerOptions]

    def check(self, model: str, options: SamplerOptions) -> None: ...

    def __call__(self, model: str, options: SamplerOptions) -> Sampler: ...


def sampler_class(backend: str) -> SamplerFactory:
    """The registered class of ``backend``; raises ``UsageError`` for an unknown or broken one."""
    cls = registry.load("samplers", backend)
    options = getattr(cls, "Options", None)
    if not (isinstance(cls, type) and isinstance(options, type) and issubclass(options, SamplerOptions)
            and callable(getattr(cls, "check", None))):
        raise UsageError(
            f"sampler plugin {backend!r} ({cls!r}) is not a sampler class with Options and check()"
        )
    return cast(SamplerFactory, cls)


def parse_options(backend: str, raw: Mapping[str, object]) -> SamplerOptions:
    """``raw`` (the ``[model]`` keys beyond backend and name) validated against the backend."""
    cls = sampler_class(backend)
    try:
        return cls.Options.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "?"
        allowed = ", ".join(cls.Options.model_fields) or "none"
        if err["type"] == "extra_forbidden":
            raise UsageError(
                f"unknown config key 'model.{key}' for backend {backend!r} (allowed: {allowed})"
            ) from None
        value = raw.get(key, "<missing>")
        raise UsageError(f"bad config value model.{key}={value!r} for backend {backend!r}: {err['msg']}") from None


def create_sampler(backend: str, model: str, options: SamplerOptions) -> Sampler:
    """Load ``model`` with ``backend`` (slow). ``options`` come from ``parse_options``."""
    cls = sampler_class(backend)
    cls.check(model, options)
    sampler = cls(model, options)
    if not isinstance(sampler, Sampler):
        raise UsageError(f"sampler plugin {backend!r} does not implement the Sampler protocol")
    return sampler


def generate_all(
    sampler: Sampler, requests: Sequence[GenerationRequest], params: SamplingParams
) -> list[list[Completion]]:
    """``params.n`` completions per request, in request order (a blocking convenience)."""
    position = {r.problem_id: k for k, r in enumerate(requests)}
    if len(position) != len(requests):
        raise ValueError("generate_all needs distinct problem ids (they pick the per-sample seeds)")
    asks = [SampleRequest(problem_id=r.problem_id, messages=r.messages, indices=tuple(range(params.n))) for r in requests]
    rows: list[list[Completion | None]] = [[None] * params.n for _ in requests]
    for out in sampler.stream(asks, params):
        rows[position[out.problem_id]][out.index] = out.completion
    done = [[c for c in row if c is not None] for row in rows]
    if any(len(row) != params.n for row in done):
        raise RuntimeError(f"sampler {sampler.name!r} did not return every requested sample")
    return done

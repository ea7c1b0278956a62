"""Frozen records shared by every part of verigen.

Everything that crosses a module boundary is one of these records (or a reference type
owned by a verifier), never a loose ``dict[str, Any]``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar, Union

JSONScalar = Union[str, int, float, bool, None]
JSONValue = Union[JSONScalar, list["JSONValue"], dict[str, "JSONValue"]]

Role = Literal["system", "user", "assistant"]

R = TypeVar("R")


class Outcome(str, enum.Enum):
    """The five possible verdicts on one candidate.

    ERROR is an infrastructure fault (verifier or sandbox), never a judgement of the
    candidate: it is excluded from pass@k's n, from training data and from negatives.
    """

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def is_failure_of_candidate(self) -> bool:
        return self in (Outcome.REJECTED, Outcome.NO_ANSWER, Outcome.TIMEOUT)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    role: Role
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem(Generic[R]):
    """One problem of a task.

    ``reference`` is owned by the task's verifier (``MathAnswer``, ``TestSuite``,
    ``Puzzle``...); it must be picklable and offer ``to_json``/``from_json``.
    """

    id: str
    task: str
    prompt: str
    reference: R
    metadata: Mapping[str, JSONScalar] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int = 0

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "n": self.n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationRequest:
    """What a sampler is asked: one conversation, ``params.n`` completions."""

    problem_id: str
    messages: tuple[ChatMessage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    problem_id: str
    index: int
    text: str
    model: str
    params: SamplingParams
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    outcome: Outcome
    answer: str | None = None
    detail: str = ""
    verifier: str = ""
    verifier_version: str = ""
    # The verifier's canonical form of ``answer`` (math: ``0.5`` and ``\frac12`` share
    # one), so that equivalent answers vote together in maj@k; None when it has none.
    canonical: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        row: dict[str, JSONValue] = {
            "outcome": self.outcome.value,
            "answer": self.answer,
            "detail": self.detail,
            "verifier": self.verifier,
            "verifier_version": self.verifier_version,
        }
        if self.canonical is not None:
            row["canonical"] = self.canonical
        return row

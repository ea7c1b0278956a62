"""The task plugin interface.

A task answers four questions: which problems (``problems``), how to prompt
(``messages``), how to verify (``verifier``) and what a known-good solution is
(``reference_solution``, used by self-checks). Tasks are registered only through the
``verigen.tasks`` entry point; their class attributes (name, family, description) are
readable without importing any heavy dependency.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from verigen import registry
from verigen.errors import UsageError
from verigen.types import ChatMessage, JSONValue, Problem
from verigen.verify.base import Verifier

R = TypeVar("R")
Family = Literal["math", "code", "puzzle"]

DATA_DIR_ENV = "VERIGEN_DATA_DIR"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskContext:
    """Where a task finds its data and which sandbox backend code tasks use."""

    data_dir: Path | None = None
    sandbox: str = "auto"

    @classmethod
    def from_env(cls, data_dir: Path | None = None, sandbox: str = "auto") -> TaskContext:
        if data_dir is None and os.environ.get(DATA_DIR_ENV):
            data_dir = Path(os.environ[DATA_DIR_ENV])
        return cls(data_dir=data_dir, sandbox=sandbox)


class TaskArgs(BaseModel):
    """Base of a task's ``--task-arg`` schema: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Task(abc.ABC, Generic[R]):
    name: ClassVar[str]
    family: ClassVar[Family]
    description: ClassVar[str]
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    Args: ClassVar[type[TaskArgs]] = TaskArgs
    system_prompt: ClassVar[str | None] = None

    def __init__(self, args: TaskArgs, ctx: TaskContext) -> None:
        self.args = args
        self.ctx = ctx

    @abc.abstractmethod
    def problems(self, *, split: str, seed: int) -> Iterator[Problem[R]]:
        """The problems of ``split``; a pure function of (task, args, split, seed)."""

    @abc.abstractmethod
    def verifier(self) -> Verifier:
        """A fresh verifier for this task's problems."""

    @abc.abstractmethod
    def reference_solution(self, problem: Problem[R]) -> str | None:
        """A completion text that the verifier must accept, or None when none is known."""

    @abc.abstractmethod
    def decode_reference(self, data: JSONValue) -> R:
        """The inverse of ``encode_reference``."""

    def encode_reference(self, reference: R) -> JSONValue:
        to_json = getattr(reference, "to_json")  # noqa: B009 - R is unbounded: mypy needs getattr
        return cast(JSONValue, to_json())

    def messages(self, problem: Problem[R]) -> tuple[ChatMessage, ...]:
        """The chat prompt for ``problem``."""
        msgs: list[ChatMessage] = []
        if self.system_prompt:
            msgs.append(ChatMessage(role="system", content=self.system_prompt))
        msgs.append(ChatMessage(role="user", content=problem.prompt))
        return tuple(msgs)

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            raise UsageError(
                f"task {self.name!r} has no split {split!r} (splits: {', '.join(self.splits)})"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInfo:
    name: str
    family: str
    description: str
    splits: tuple[str, ...]
    distribution: str


def parse_task_args(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` to a mapping; a malformed pair raises naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad --task-arg {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def task_class(name: str) -> type[Task[object]]:
    obj = registry.load("tasks", name)
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise UsageError(f"task plugin {name!r} is not a verigen.task.Task subclass: {obj!r}")
    return cast(type[Task[object]], obj)


def create_task(name: str, args: Mapping[str, object], ctx: TaskContext) -> Task[object]:
    """Instantiate task ``name`` with validated args; bad args raise naming key and value."""
    cls = task_class(name)
    try:
        parsed = cls.Args.model_validate(dict(args))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "?"
        value = args.get(key, "<missing>")
        allowed = ", ".join(cls.Args.model_fields) or "none"
        raise UsageError(
            f"bad --task-arg {key}={value!s} for task {name!r}: {err['msg']} "
            f"(allowed: {allowed})"
        ) from None
    return cls(parsed, ctx)


def list_tasks() -> list[TaskInfo]:
    """Every registered task; imports only the plugin modules (no heavy dependencies)."""
    infos = []
    for ref in registry.plugins("tasks").values():
        cls = task_class(ref.name)
        infos.append(
            TaskInfo(
                name=ref.name,
                family=cls.family,
                description=cls.description,
                splits=cls.splits,
                distribution=ref.distribution,
            )
        )
    return infos

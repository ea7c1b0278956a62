"""``verigen tasks info NAME``: what a task takes, where it came from, what it asks.

The args schema is read from the task's pydantic ``Args`` model (types, defaults,
constraints, descriptions); the example prompt is the first problem of a split rendered as
the sampler would see it. A task that cannot build an example here (its data is missing,
a required arg is not given) still describes itself, with the reason in place of the
example.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Union

from pydantic.fields import FieldInfo

from verigen import registry
from verigen.errors import UsageError
from verigen.prompting import PromptSpec
from verigen.task import TaskContext, create_task, task_class
from verigen.types import ChatMessage, JSONValue

_CONSTRAINTS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgSpec:
    name: str
    type: str
    default: str | None  # None: required
    description: str = ""

    def to_json(self) -> dict[str, JSONValue]:
        return {"name": self.name, "type": self.type, "default": self.default,
                "required": self.default is None, "description": self.description}


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDescription:
    name: str
    family: str
    description: str
    doc: str
    splits: tuple[str, ...]
    distribution: str
    version: str
    target: str
    args: tuple[ArgSpec, ...]
    example_split: str | None
    example_id: str | None
    example: tuple[ChatMessage, ...]
    example_error: str | None  # why there is no example

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "name": self.name, "family": self.family, "description": self.description,
            "splits": list(self.splits), "distribution": self.distribution, "version": self.version,
            "target": self.target, "args": [a.to_json() for a in self.args],
            "example": {"split": self.example_split, "problem_id": self.example_id,
                        "messages": [{"role": m.role, "content": m.content} for m in self.example]}
            if self.example else None,
            "example_error": self.example_error,
        }


def type_name(annotation: object) -> str:
    """``int``, ``str | None``, ``'full' | 'sanitized'``: an annotation as a user reads it."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sign in _CONSTRAINTS:
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def arg_specs(fields: Mapping[str, FieldInfo]) -> tuple[ArgSpec, ...]:
    specs = []
    for name, info in fields.items():
        default = None if info.is_required() else repr(info.get_default(call_default_factory=True))
        bounds = _constraints(info)
        described = " ".join(p for p in (info.description or "", f"({bounds})" if bounds else "") if p)
        specs.append(ArgSpec(name=name, type=type_name(info.annotation), default=default, description=described))
    return tuple(specs)


def describe(
    name: str, args: Mapping[str, str], ctx: TaskContext, *, split: str | None = None, fewshot: int = 0,
) -> TaskDescription:
    """Describe task ``name``; ``args`` and ``split`` choose the example problem."""
    ref = registry.get("tasks", name)
    cls = task_class(name)
    family, splits = str(cls.family), tuple(cls.splits)
    example: tuple[ChatMessage, ...] = ()
    example_id = error = None
    chosen = split
    try:
        task = create_task(name, args, ctx)
        family, splits = str(task.family), tuple(task.splits)
        chosen = split or ("test" if "test" in splits else splits[0])
        task.check_split(chosen)
        first = next(iter(task.problems(split=chosen, seed=0)), None)
        if first is None:
            error = f"split {chosen!r} has no problems"
        else:
            task.configure_prompting(PromptSpec(fewshot=fewshot), sampled=[first])
            example, example_id = task.messages(first), first.id
    except UsageError as exc:
        error = str(exc)
    return TaskDescription(
        name=name, family=family, description=cls.description, doc=inspect.cleandoc(cls.__doc__ or ""),
        splits=splits, distribution=ref.distribution, version=ref.version, target=ref.target,
        args=arg_specs(cls.Args.model_fields), example_split=chosen, example_id=example_id,
        example=example, example_error=error,
    )

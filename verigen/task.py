"""The task plugin interface.

A task answers four questions: which problems (``problems``), how to prompt
(``messages``), how to verify (``verifier``) and what a known-good solution is
(``reference_solution``, used by self-checks and as few-shot answers). Tasks are
registered only through the ``verigen.tasks`` entry point; their class attributes (name,
family, description) are readable without importing any heavy dependency.

Prompting (system prompt, few-shot examples, template: ``verigen.prompting``) is the same
for every task: ``messages`` composes it around ``prompt_turns``, the problem's own turns.
"""

from __future__ import annotations

import abc
import itertools
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Generic, Literal, TypeVar, cast, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from verigen import registry
from verigen.errors import RegistryError, UsageError
from verigen.prompting import FewShotExample, PromptSpec, draw_examples
from verigen.types import ChatMessage, JSONValue, Problem
from verigen.verify.base import Verifier

R = TypeVar("R")
Family = Literal["math", "code", "puzzle"]

DATA_DIR_ENV = "VERIGEN_DATA_DIR"
# Few-shot pools are read up to this many problems (a procedural split may be huge).
FEWSHOT_POOL_MAX = 20_000


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


@dataclass(slots=True, kw_only=True)
class _FewShotPool:
    """Where one run's worked examples come from: (source, prompt) pairs and answers."""

    entries: list[tuple[str, str]]
    answer: Callable[[int], str | None]
    drawn: dict[str, tuple[FewShotExample, ...]] = field(default_factory=dict)


class Task(abc.ABC, Generic[R]):
    name: ClassVar[str]
    description: ClassVar[str]
    # family, splits and system_prompt are class attributes for most tasks; a task whose
    # data decides them (``jsonl``) sets them per instance in ``__init__``.
    family: Family
    splits: tuple[str, ...] = ("train", "test")
    system_prompt: str | None = None
    # Few-shot examples are drawn from this split (never from the problems being sampled).
    fewshot_split: ClassVar[str] = "train"
    # What the task needs from the engine (verigen.engine._needs): its verifier runs
    # candidates in a sandbox; its answers can be compared by equality, so maj@k applies.
    needs_sandbox: ClassVar[bool] = False
    majority_vote: ClassVar[bool] = False
    Args: ClassVar[type[TaskArgs]] = TaskArgs
    # Set by ``create_task`` from the registry: how errors name this plugin.
    origin: str = ""
    _prompt_spec: PromptSpec | None = None
    _fewshot_pool: _FewShotPool | None = None

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

    # Prompting ---------------------------------------------------------------------------

    def prompt_turns(self, problem: Problem[R]) -> tuple[ChatMessage, ...]:
        """The problem's own conversation: one user turn with its prompt by default. It may
        start with a system turn (used unless the config sets a system prompt) and must end
        with the user turn that the template applies to."""
        return (ChatMessage(role="user", content=problem.prompt),)

    def fewshot_examples(self) -> tuple[FewShotExample, ...]:
        """Curated worked examples; when there are some, few-shot prompts use them instead
        of drawing from ``fewshot_split``."""
        return ()

    def fewshot_answer(self, problem: Problem[R]) -> str | None:
        """The assistant turn of ``problem`` as a worked example: its reference solution,
        fenced for code tasks (whose prompts ask for a fenced block)."""
        ref = self.reference_solution(problem)
        if ref is not None and self.family != "math" and "```" not in ref:
            ref = "```python\n" + ref.rstrip("\n") + "\n```"
        return ref

    def configure_prompting(self, spec: PromptSpec, *, sampled: Sequence[Problem[R]]) -> None:
        """Use ``spec`` for every later ``messages`` call. Few-shot examples are drawn here
        for every problem in ``sampled`` (none of which can be an example), so a pool too
        small raises ``UsageError`` before anything is written."""
        self._prompt_spec = spec
        self._fewshot_pool = self._make_pool(spec, sampled) if spec.fewshot else None
        for problem in sampled if spec.fewshot else ():
            self.fewshot_for(problem)

    def _make_pool(self, spec: PromptSpec, sampled: Sequence[Problem[R]]) -> _FewShotPool:
        excluded_ids = {p.id for p in sampled}
        excluded_prompts = {p.prompt for p in sampled}
        curated = self.fewshot_examples()
        if curated:
            kept = [(i, ex) for i, ex in enumerate(curated) if ex.prompt not in excluded_prompts]
            return _FewShotPool(
                entries=[(ex.source or f"curated/{i}", ex.prompt) for i, ex in kept],
                answer=lambda j: kept[j][1].answer,
            )
        split = self.fewshot_split
        if split not in self.splits:
            raise UsageError(
                f"task {self.name!r}: few-shot examples come from its {split!r} split, which it "
                f"does not have (splits: {', '.join(self.splits)}), and it ships no curated "
                "examples; use task.fewshot=0"
            )
        pool = [
            p for p in itertools.islice(self.problems(split=split, seed=spec.seed), FEWSHOT_POOL_MAX)
            if p.id not in excluded_ids and p.prompt not in excluded_prompts
        ]
        answers: dict[int, str | None] = {}

        def answer(i: int) -> str | None:
            if i not in answers:
                answers[i] = self.fewshot_answer(pool[i])
            return answers[i]

        if len(pool) < spec.fewshot:
            raise UsageError(
                f"task {self.name!r}: task.fewshot={spec.fewshot} needs {spec.fewshot} problems of "
                f"split {split!r} that the run does not sample; there are {len(pool)} "
                "(sample fewer problems with task.limit, or lower task.fewshot)"
            )
        return _FewShotPool(entries=[(p.id, p.prompt) for p in pool], answer=answer)

    def fewshot_for(self, problem: Problem[R]) -> tuple[FewShotExample, ...]:
        """The worked examples put before ``problem``: a pure function of (task, seed,
        problem id) and the pool; none without few-shot prompting."""
        spec, pool = self._prompt_spec, self._fewshot_pool
        if spec is None or pool is None or not spec.fewshot:
            return ()
        if problem.id not in pool.drawn:
            rng = random.Random(f"{self.name}:fewshot:{spec.seed}:{problem.id}")
            try:
                chosen = draw_examples(pool.entries, pool.answer, k=spec.fewshot, rng=rng)
            except UsageError as exc:
                raise UsageError(f"task {self.name!r}: few-shot examples: {exc}") from None
            pool.drawn[problem.id] = tuple(
                FewShotExample(prompt=pool.entries[i][1], answer=pool.answer(i) or "", source=pool.entries[i][0])
                for i in chosen
            )
        return pool.drawn[problem.id]

    def messages(self, problem: Problem[R]) -> tuple[ChatMessage, ...]:
        """The chat prompt for ``problem``: system prompt, few-shot turns, then its own turns
        with the template applied to the final user turn."""
        spec = self._prompt_spec or PromptSpec()
        own = list(self.prompt_turns(problem))
        row_system = own.pop(0).content if own and own[0].role == "system" else None
        system = spec.system_prompt if spec.system_prompt is not None else (row_system or self.system_prompt)
        render = spec.template.render if spec.template is not None else (lambda text: text)
        msgs: list[ChatMessage] = [ChatMessage(role="system", content=system)] if system else []
        for ex in self.fewshot_for(problem):
            msgs.append(ChatMessage(role="user", content=render(ex.prompt)))
            msgs.append(ChatMessage(role="assistant", content=ex.answer))
        if own and own[-1].role == "user":
            own[-1] = ChatMessage(role="user", content=render(own[-1].content))
        return (*msgs, *own)

    def prompt_record(self, problem: Problem[R]) -> dict[str, JSONValue]:
        """How ``problem``'s prompt was made, for the run's provenance."""
        spec = self._prompt_spec or PromptSpec()
        return {
            "fewshot": [ex.source for ex in self.fewshot_for(problem)],
            "template_sha256": spec.template.sha256 if spec.template is not None else None,
        }

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
    version: str = "?"
    target: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenTask:
    """A registered task that cannot be used, and why (naming its distribution)."""

    name: str
    distribution: str
    error: str


def parse_task_args(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` to a mapping; a malformed pair raises naming it."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad --task-arg {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def _check_class(ref: registry.PluginRef, obj: object) -> type[Task[object]]:
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise RegistryError(f"{ref.origin} is not a verigen.task.Task subclass: {obj!r}")
    if getattr(obj, "__abstractmethods__", None):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise RegistryError(f"{ref.origin} does not implement {missing}")
    name = getattr(obj, "name", None)
    if name != ref.name:
        raise RegistryError(f"{ref.origin}: the class says name={name!r}; it must match the entry-point name")
    if getattr(obj, "family", None) not in get_args(Family):
        raise RegistryError(
            f"{ref.origin}: family={getattr(obj, 'family', None)!r} is not one of {', '.join(get_args(Family))}"
        )
    if not isinstance(getattr(obj, "description", None), str):
        raise RegistryError(f"{ref.origin}: the class has no description string")
    return cast(type[Task[object]], obj)


def task_class(name: str) -> type[Task[object]]:
    ref = registry.get("tasks", name)
    return _check_class(ref, ref.load())


def task_origin(name: str) -> str:
    """How errors name the registered task ``name`` (its target and distribution)."""
    return registry.get("tasks", name).origin


def create_task(name: str, args: Mapping[str, object], ctx: TaskContext) -> Task[object]:
    """Instantiate task ``name`` with validated args; bad args raise naming key and value."""
    ref = registry.get("tasks", name)
    cls = _check_class(ref, ref.load())
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
    task = cls(parsed, ctx)
    task.origin = ref.origin
    return task


def scan_tasks() -> tuple[list[TaskInfo], list[BrokenTask]]:
    """Every registered task, usable or not: one broken plugin never hides the others."""
    found = registry.scan("tasks")
    infos: list[TaskInfo] = []
    broken = [
        BrokenTask(name=c.name, distribution=", ".join(r.distribution for r in c.refs), error=c.message)
        for c in found.conflicts.values()
    ]
    for ref in found.plugins.values():
        try:
            cls = _check_class(ref, ref.load())
        except RegistryError as exc:
            broken.append(BrokenTask(name=ref.name, distribution=ref.distribution, error=str(exc)))
            continue
        infos.append(TaskInfo(
            name=ref.name, family=cls.family, description=cls.description, splits=tuple(cls.splits),
            distribution=ref.distribution, version=ref.version, target=ref.target,
        ))
    return infos, sorted(broken, key=lambda b: b.name)


def list_tasks() -> list[TaskInfo]:
    """Every usable registered task; imports only the plugin modules (no heavy dependencies)."""
    return scan_tasks()[0]

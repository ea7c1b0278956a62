"""``plan``: validate everything that can be validated, before anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verigen.config import ModelConfig, RunConfig
from verigen.engine._needs import TaskNeeds, needs_of
from verigen.errors import UsageError
from verigen.guarded import task_verifier
from verigen.prompting import resolve_prompting
from verigen.rundir import RunDir
from verigen.sampling.base import SamplerOptions, parse_options, sampler_class
from verigen.task import Task, TaskContext, create_task
from verigen.types import Problem


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A validated run: nothing written, no model loaded, no worker started."""

    config: RunConfig  # fully resolved: split, output dir and backend options made explicit
    task: Task[object]
    split: str
    problems: tuple[Problem[object], ...]
    resume: bool
    sampler_options: SamplerOptions
    needs: TaskNeeds

    @property
    def out(self) -> Path:
        out = self.config.output.out
        if out is None:  # plan() always sets it
            raise ValueError("a Plan without an output dir was not made by plan()")
        return out


def task_args_as_strings(args: dict[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in args.items()}


def default_split(task: Task[object], mode: str) -> str:
    preferred = "train" if mode == "generate" else "test"
    return preferred if preferred in task.splits else task.splits[-1 if mode == "evaluate" else 0]


def plan(config: RunConfig, task: Task[object] | None = None) -> Plan:
    """Validate the config against the task, its data, the sampler backend and its model,
    the sandbox, and the run dir. Reads only: a typo can never poison a run directory.

    ``task`` overrides the registry lookup (for library use with an unregistered task).
    """
    if task is None:
        ctx = TaskContext.from_env(config.task.data_dir, config.sandbox.backend)
        task = create_task(config.task.name, task_args_as_strings(config.task.args), ctx)
    split = config.task.split or default_split(task, config.mode)
    task.check_split(split)
    prompting, task_config = resolve_prompting(config.task)
    problems = _problems(task, split, config)
    task.configure_prompting(prompting, sampled=list(problems))
    options = check_model(config.model)
    needs = needs_of(task)
    if needs.sandbox:
        from verigen import registry
        from verigen.sandbox.select import resolve_backend

        registry.get("sandboxes", resolve_backend(config.sandbox.backend))
    task_verifier(task).close()  # a plugin whose verifier cannot be built fails here, before writing
    out = config.output.out or Path("runs") / f"{task.name}-{split}-{config.mode}"
    # The run dir records the fully resolved config, backend option defaults included.
    model = ModelConfig.model_validate(
        {"backend": config.model.backend, "name": config.model.name, **options.model_dump(mode="json")}
    )
    config = config.model_copy(
        update={
            "task": task_config.model_copy(update={"split": split}),
            "model": model,
            "output": config.output.model_copy(update={"out": out}),
        }
    )
    resume = RunDir.check(out, config)
    return Plan(config=config, task=task, split=split, problems=problems, resume=resume,
                sampler_options=options, needs=needs)


def check_model(model: ModelConfig) -> SamplerOptions:
    """The backend's options from ``[model]``, and a cheap check of the model itself."""
    options = parse_options(model.backend, model.options())
    sampler_class(model.backend).check(model.name, options)
    return options


def _problems(task: Task[object], split: str, config: RunConfig) -> tuple[Problem[object], ...]:
    problems: list[Problem[object]] = []
    seen: set[str] = set()
    for problem in task.problems(split=split, seed=config.task.seed):
        if problem.id in seen:
            raise UsageError(f"task {task.name!r} yielded problem id {problem.id!r} twice")
        seen.add(problem.id)
        problems.append(problem)
        if config.task.limit is not None and len(problems) >= config.task.limit:
            break
    if not problems:
        raise UsageError(f"task {task.name!r} split {split!r} has no problems")
    return tuple(problems)

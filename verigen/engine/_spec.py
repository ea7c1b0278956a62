"""Picklable descriptions of a plan's verifier and sampler, from which any process builds its own.

Live verifiers do not travel: the code and puzzle verifiers hold locks and warm sandbox
runners, and a math verifier's worker pool holds processes. What travels to a Ray worker
(or any other process) is ``VerifierSpec``: the registered task name, its arguments as
strings and its context (data folder, sandbox backend). ``build`` there makes the task
again through the registry and returns its verifier, guarded like the driver's own. Any
other frozen, hashable record with a ``build() -> Verifier`` (``VerifierSource``) travels
the same way (the self-play puzzle verifier's).

``SamplerSpec`` is the same for a sampler: backend name, model and the backend's typed
options; ``open`` loads the model in the calling process.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from verigen.engine._plan import Plan, task_args_as_strings
from verigen.errors import UsageError
from verigen.guarded import GuardedVerifier, task_verifier
from verigen.sampling.base import Sampler, SamplerOptions, create_sampler
from verigen.task import TaskContext, create_task
from verigen.verify.base import Verifier


class VerifierSource(Hashable, Protocol):
    """A frozen, picklable description of a verifier; ``build`` makes one in the calling
    process. Equal sources build verifiers that judge alike (a pool is kept per source)."""

    def build(self) -> Verifier: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierSpec:
    """Task name, args and context: all a worker needs to build the plan's verifier."""

    task: str
    args: tuple[tuple[str, str], ...]
    data_dir: str | None
    sandbox: str

    @classmethod
    def of(cls, p: Plan) -> VerifierSpec:
        """The spec of ``p``'s verifier; its task must be registered (a worker finds it by name)."""
        from verigen import registry

        name = p.task.name
        ref = registry.plugins("tasks").get(name)
        if ref is None or p.task.origin != ref.origin:  # plan(config, task=...) with a task of its own
            raise UsageError(
                f"task {p.task.name!r} is not a registered task (verigen.tasks entry point): a remote "
                "worker builds its verifier by name; install the task's distribution on every node"
            )
        ctx = p.task.ctx  # data_dir as resolved on the driver (VERIGEN_DATA_DIR included)
        return cls(
            task=name,
            args=tuple(sorted(task_args_as_strings(p.config.task.args).items())),
            data_dir=str(ctx.data_dir) if ctx.data_dir is not None else None,
            sandbox=ctx.sandbox,
        )

    def context(self) -> TaskContext:
        return TaskContext(data_dir=Path(self.data_dir) if self.data_dir is not None else None, sandbox=self.sandbox)

    def build(self) -> GuardedVerifier:
        """A fresh verifier of the described task, built in the calling process."""
        task = create_task(self.task, dict(self.args), self.context())
        return task_verifier(task)


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplerSpec:
    """Backend, model and options: all a worker needs to load the plan's sampler."""

    backend: str
    model: str  # a name the backend resolves, or a folder (a checkpoint) every node can read
    options: SamplerOptions

    @classmethod
    def of(cls, p: Plan) -> SamplerSpec:
        return cls(backend=p.config.model.backend, model=p.config.model.name, options=p.sampler_options)

    def open(self) -> Sampler:
        """Load the model with its backend (slow), in the calling process."""
        return create_sampler(self.backend, self.model, self.options)

"""A task's verifier, guarded: a plugin's fault is reported naming the plugin.

A task may bring its own verifier. ``task_verifier`` builds it and checks that it is one
(a ``verigen.verify.base.Verifier``); a failure there raises ``RegistryError`` naming the
task and its distribution before anything runs. ``GuardedVerifier`` turns an exception
raised by ``verify`` into ``Outcome.ERROR`` (a fault of the machinery, never a verdict on
the candidate) whose detail names the plugin, so a run's error report says whose code
failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verigen.errors import RegistryError
from verigen.task import Task
from verigen.types import Outcome, Problem, Verdict
from verigen.verify.base import Verifier

_REQUIRED = ("name", "version", "needs_process_isolation", "time_limit_s", "verify", "close")
_DETAIL_MAX = 500


@dataclass(slots=True)
class GuardedVerifier:
    """``inner`` with its exceptions reported as ERROR verdicts naming ``origin``."""

    inner: Verifier
    origin: str
    name: str = field(init=False)
    version: str = field(init=False)
    needs_process_isolation: bool = field(init=False)
    time_limit_s: float = field(init=False)
    preload_modules: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name
        self.version = self.inner.version
        self.needs_process_isolation = self.inner.needs_process_isolation
        self.time_limit_s = self.inner.time_limit_s
        self.preload_modules = tuple(getattr(self.inner, "preload_modules", ()))

    def verify(self, problem: Problem[Any], completion: str) -> Verdict:
        try:
            verdict = self.inner.verify(problem, completion)
        except Exception as exc:
            detail = f"verifier {self.inner.name!r} of {self.origin} raised {type(exc).__name__}: {exc}"
            return Verdict(outcome=Outcome.ERROR, detail=detail[:_DETAIL_MAX], verifier=self.inner.name,
                           verifier_version=self.inner.version)
        if not isinstance(verdict, Verdict):
            detail = f"verifier {self.inner.name!r} of {self.origin} returned {type(verdict).__name__}, not a Verdict"
            return Verdict(outcome=Outcome.ERROR, detail=detail[:_DETAIL_MAX], verifier=self.inner.name,
                           verifier_version=self.inner.version)
        return verdict

    def close(self) -> None:
        self.inner.close()


def task_verifier(task: Task[Any]) -> GuardedVerifier:
    """``task.verifier()``, checked and guarded (see the module docstring)."""
    origin = task.origin or f"task {task.name!r}"
    try:
        inner = task.verifier()
    except Exception as exc:
        raise RegistryError(f"{origin}: verifier() raised {type(exc).__name__}: {exc}") from exc
    missing = [attr for attr in _REQUIRED if not hasattr(inner, attr)]
    if missing:
        raise RegistryError(
            f"{origin}: verifier() returned {type(inner).__name__}, which is not a Verifier "
            f"(missing: {', '.join(missing)})"
        )
    return GuardedVerifier(inner, origin)

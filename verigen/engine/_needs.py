"""What a task declares it needs from the engine, read from the task, never from its family.

A task class may set (both default to False):

- ``needs_sandbox``: its verifier runs candidates in a sandbox, so the configured sandbox
  backend must exist before anything is written or sampled;
- ``majority_vote``: its verifier extracts answers that can be compared by equality, so
  maj@k means something (math); programs are not votes on one answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from verigen.errors import UsageError
from verigen.task import Task


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskNeeds:
    sandbox: bool = False
    majority_vote: bool = False


def needs_of(task: Task[object]) -> TaskNeeds:
    return TaskNeeds(sandbox=_flag(task, "needs_sandbox"), majority_vote=_flag(task, "majority_vote"))


def _flag(task: Task[object], name: str) -> bool:
    value = getattr(task, name, False)
    if not isinstance(value, bool):
        raise UsageError(f"task {task.name!r}: {name} must be True or False, got {value!r}")
    return value

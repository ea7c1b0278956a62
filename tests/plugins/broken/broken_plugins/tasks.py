"""Plugins that import fine but are wrong in one way each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from verigen.task import Task
from verigen.types import JSONValue, Problem, Verdict


class NotATask:
    """Registered as a task, but not a ``verigen.task.Task``."""

    name = "wrong_base"


@dataclass(frozen=True, slots=True, kw_only=True)
class Gold:
    text: str

    def to_json(self) -> JSONValue:
        return {"gold": self.text}


class _Simple(Task[Gold]):
    family = "math"
    description = "a broken test plugin"

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[Gold]]:
        self.check_split(split)
        for i in range(2):
            yield Problem(id=f"{self.name}/{split}/{i}", task=self.name, prompt=f"say {i}", reference=Gold(text=str(i)))

    def reference_solution(self, problem: Problem[Gold]) -> str | None:
        return problem.reference.text

    def decode_reference(self, data: JSONValue) -> Gold:
        return Gold(text=str(data["gold"]) if isinstance(data, dict) else "")

    def verifier(self) -> RaisingVerifier:
        return RaisingVerifier()


class RaisingVerifier:
    name = "raises"
    version = "1"
    needs_process_isolation = False
    time_limit_s = 5.0

    def verify(self, problem: Problem[Gold], completion: str) -> Verdict:
        raise RuntimeError("this verifier is broken")

    def close(self) -> None:
        return None


class Arithmetic(_Simple):
    """Claims the name of a built-in task."""

    name = "arithmetic"


class Misnamed(_Simple):
    """Registered as 'misnamed', but says it is called something else."""

    name = "something_else"


class RaisingVerifierTask(_Simple):
    name = "raising_verifier"


class RaisingFactoryTask(_Simple):
    name = "raising_verifier_factory"

    def verifier(self) -> RaisingVerifier:
        raise OSError("cannot open the verifier's model file")

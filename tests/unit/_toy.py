"""A toy verifier and task used by the engine's own tests (importable by worker processes)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from verigen.task import Task, TaskArgs
from verigen.types import JSONValue, Outcome, Problem, Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class Gold:
    text: str

    def to_json(self) -> JSONValue:
        return {"gold": self.text}


class ToyVerifier:
    """ACCEPTED when the text equals the gold; 'hang' sleeps, 'crash' kills the worker,
    'raise' raises: the pool must turn those into TIMEOUT / ERROR / ERROR."""

    name = "toy"
    version = "1"
    needs_process_isolation = True
    time_limit_s = 1.0

    def verify(self, problem: Problem[Gold], completion: str) -> Verdict:
        if completion == "hang":
            time.sleep(60)
        if completion == "crash":
            os._exit(3)
        if completion == "raise":
            raise RuntimeError("boom")
        if not completion.strip():
            return Verdict(outcome=Outcome.NO_ANSWER, verifier=self.name, verifier_version=self.version)
        ok = completion.strip() == problem.reference.text
        return Verdict(
            outcome=Outcome.ACCEPTED if ok else Outcome.REJECTED,
            answer=completion.strip(),
            verifier=self.name,
            verifier_version=self.version,
        )

    def close(self) -> None:
        return None


class ToyArgs(TaskArgs):
    count: int = 3


class ToyTask(Task[Gold]):
    name = "toy"
    family = "math"
    majority_vote = True
    description = "toy problems: the answer is the index"
    Args = ToyArgs

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[Gold]]:
        assert isinstance(self.args, ToyArgs)
        for i in range(self.args.count):
            yield Problem(id=f"toy/{split}/{i}", task=self.name, prompt=f"say {i}", reference=Gold(text=str(i)))

    def verifier(self) -> ToyVerifier:
        return ToyVerifier()

    def reference_solution(self, problem: Problem[Gold]) -> str | None:
        return problem.reference.text

    def decode_reference(self, data: JSONValue) -> Gold:
        assert isinstance(data, dict)
        return Gold(text=str(data["gold"]))

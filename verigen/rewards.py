"""Verifiers as reward functions for TRL's online trainers (``GRPOTrainer``, RLOO, ...).

    reward = VerifierReward("arithmetic")                     # a task's own verifier
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=ds, ...)
    ...
    reward.close()                                            # the warm pool goes with it

TRL calls a reward function as ``f(prompts=..., completions=..., **columns)`` with one entry
per completion in every list, and wants one float per completion back. Completions are plain
strings or conversational (``[{"role": "assistant", "content": ...}]``). The reference comes
from the dataset column ``reference`` (the JSON the task writes into ``problems.jsonl``;
``prompt_rows(run_dir)`` turns a run's problems into such a dataset).

ACCEPTED scores 1.0; REJECTED, NO_ANSWER and TIMEOUT score 0.0. ERROR (the verifier or the
sandbox failed, not the candidate) is neither: ``on_error="skip"`` returns None for it (TRL
leaves a None reward out of the advantage), a number returns that number. Every outcome is
counted in ``counts``. The verifier pool stays warm across calls.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from verigen.errors import UsageError
from verigen.task import Task
from verigen.types import JSONValue, Outcome, Problem, Verdict

ERROR_SKIP: Literal["skip"] = "skip"
SCORES = {Outcome.ACCEPTED: 1.0, Outcome.REJECTED: 0.0, Outcome.NO_ANSWER: 0.0, Outcome.TIMEOUT: 0.0}


def completion_text(completion: object) -> str:
    """The text of a plain or conversational completion (its last assistant message)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        content = completion.get("content")
        if isinstance(content, str):
            return content
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, Mapping) and message.get("role", "assistant") == "assistant":
                content = message.get("content")
                if isinstance(content, str):
                    return content
    raise UsageError(f"reward: completion {completion!r:.200} is neither text nor a list of chat messages")


def _prompt_text(prompt: object) -> str:
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, Mapping))
    return str(prompt)


class VerifierReward:
    """One task's verifier as a TRL reward function (see the module docstring).

    ``task``: a registered task name (or a task object); ``reference_column``: the dataset column with the
    reference JSON; ``on_error``: "skip" (None) or the score an ERROR gets.
    """

    def __init__(
        self,
        task: str | Task[object],
        *,
        task_args: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        sandbox: str = "auto",
        on_error: Literal["skip"] | float = ERROR_SKIP,
        reference_column: str = "reference",
        workers: int = 2,
        time_limit_s: float = 5.0,
    ) -> None:
        from verigen.guarded import task_verifier
        from verigen.task import TaskContext, create_task
        from verigen.verify.pool import open_pool

        if on_error != ERROR_SKIP and not isinstance(on_error, (int, float)):
            raise UsageError(f"reward: on_error must be 'skip' or a number, not {on_error!r}")
        self.task = task if isinstance(task, Task) else create_task(
            task, dict(task_args or {}), TaskContext.from_env(data_dir, sandbox))
        self.on_error = on_error
        self.reference_column = reference_column
        self.counts: Counter[str] = Counter()
        self.__name__ = f"verigen_{self.task.name}"  # TRL logs each reward under its function's name
        self._verifier = task_verifier(self.task)
        self._pool = open_pool(self._verifier, workers=workers, time_limit_s=time_limit_s)

    def _problem(self, i: int, reference: object, prompt: object, problem_id: object) -> Problem[object]:
        data: JSONValue
        if isinstance(reference, str):
            try:
                data = json.loads(reference)
            except json.JSONDecodeError:
                data = reference
        else:
            data = json.loads(json.dumps(reference))
        try:
            ref = self.task.decode_reference(data)
        except Exception as exc:
            raise UsageError(f"reward: row {i}: column {self.reference_column!r} is not a {self.task.name} reference: {exc}") from exc
        pid = str(problem_id) if problem_id is not None else f"row-{i}"
        return Problem(id=pid, task=self.task.name, prompt=_prompt_text(prompt), reference=ref)

    def verdicts(self, completions: Sequence[object], references: Sequence[object],
                 prompts: Sequence[object] | None = None, problem_ids: Sequence[object] | None = None) -> list[Verdict]:
        if len(references) != len(completions):
            raise UsageError(f"reward: {len(completions)} completions but {len(references)} references")
        futures = []
        for i, (completion, reference) in enumerate(zip(completions, references)):
            problem = self._problem(i, reference, prompts[i] if prompts else None, problem_ids[i] if problem_ids else None)
            futures.append(self._pool.submit(problem, completion_text(completion)))
        out = []
        for fut in futures:
            try:
                out.append(fut.result())
            except Exception as exc:  # a pool fault is an infrastructure fault, never a verdict
                out.append(Verdict(outcome=Outcome.ERROR, detail=f"verify pool fault: {type(exc).__name__}: {exc}"[:500]))
        return out

    def score(self, verdict: Verdict) -> float | None:
        if verdict.outcome is Outcome.ERROR:
            return None if self.on_error == ERROR_SKIP else float(self.on_error)
        return SCORES[verdict.outcome]

    def __call__(self, prompts: Sequence[object] | None = None, completions: Sequence[object] = (),
                 **columns: object) -> list[float | None]:
        if self.reference_column not in columns:
            raise UsageError(
                f"reward: the dataset has no {self.reference_column!r} column (columns: {sorted(columns)}); "
                "see verigen.rewards.prompt_rows"
            )
        refs = columns[self.reference_column]
        ids = columns.get("problem_id")
        if not isinstance(refs, Sequence) or isinstance(refs, str):
            raise UsageError(f"reward: column {self.reference_column!r} must be a list, one entry per completion")
        verdicts = self.verdicts(list(completions), list(refs), list(prompts) if prompts is not None else None,
                                 list(ids) if isinstance(ids, Sequence) and not isinstance(ids, str) else None)
        self.counts.update(v.outcome.value for v in verdicts)
        return [self.score(v) for v in verdicts]

    def close(self) -> None:
        self._pool.close()
        self._verifier.close()

    def __enter__(self) -> VerifierReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prompt_rows(run_dir: Path) -> list[dict[str, JSONValue]]:
    """A run's problems as online-RL dataset rows: ``prompt`` (chat messages), ``reference``
    (JSON text), ``problem_id`` and ``task``."""
    from verigen.jsonl import read_jsonl

    path = run_dir / "problems.jsonl"
    if not path.is_file():
        raise UsageError(f"{str(run_dir)!r} is not a verigen run directory (no problems.jsonl)")
    rows: list[dict[str, JSONValue]] = []
    for _, row in read_jsonl(path):
        rows.append({
            "prompt": row.get("messages"), "reference": json.dumps(row.get("reference")),
            "problem_id": row.get("id"), "task": row.get("task"),
        })
    return rows

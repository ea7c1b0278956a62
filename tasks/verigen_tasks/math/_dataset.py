"""Base of the math tasks read from benchmark files (GSM8K, MATH, MATH-500).

Rows come from a local JSONL file under the data dir when there is one, else from the
Hugging Face hub (best effort, needs network and ``datasets``). Records are read once per
task instance and split; every broken row raises ``UsageError`` naming file:line and field.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from verigen.errors import UsageError
from verigen.task import TaskArgs, TaskContext
from verigen.types import JSONScalar, JSONValue, Problem
from verigen.verify.math.answer import MathAnswer
from verigen_tasks.data import find_local, load_hub, read_jsonl
from verigen_tasks.math._common import MathTask, final_line
from verigen_tasks.math._latex import unbox


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One benchmark problem with its worked solution and gold answer."""

    id: str
    prompt: str
    answer: str
    solution: str  # the dataset's worked solution, already cleaned for display
    metadata: Mapping[str, JSONScalar]


@dataclass(frozen=True, slots=True, kw_only=True)
class HubSource:
    """Where the hub keeps the same rows: ``datasets.load_dataset(name, config, split=)``."""

    name: str
    config: str | None
    split: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One raw row and where it came from, for error messages (``file:line``)."""

    path: Path
    line: int
    data: dict[str, JSONValue]


def read_rows(
    ctx: TaskContext, task: str, local: tuple[str, ...], hub: tuple[HubSource, ...]
) -> Iterator[Row]:
    """Rows of the first local file in ``local``; without one, rows of every hub source."""
    path = find_local(ctx, *local)
    if path is not None:
        for line, data in read_jsonl(path):
            yield Row(path=path, line=line, data=data)
        return
    for source in hub:
        try:
            rows = load_hub(task, source.name, source.config, source.split)
        except UsageError as exc:
            if ctx.data_dir is None:
                raise
            raise UsageError(
                f"task {task!r}: none of {', '.join(local)} under {ctx.data_dir}, and the "
                f"hub fallback failed: {exc}"
            ) from None
        label = Path(f"hub:{source.name}/{source.config or 'default'}/{source.split}")
        for index, data in enumerate(rows, 1):
            yield Row(path=label, line=index, data=data)


class DatasetMathTask(MathTask):
    """A math task over a fixed list of records per split."""

    def __init__(self, args: TaskArgs, ctx: TaskContext) -> None:
        super().__init__(args, ctx)
        self._records: dict[str, tuple[Record, ...]] = {}
        self._by_id: dict[str, Record] = {}

    @abc.abstractmethod
    def load(self, split: str) -> Iterator[Record]:
        """Every record of ``split``, in file order, before any filter."""

    def keep(self, record: Record) -> bool:
        """Whether ``record`` passes this instance's filters (``--task-arg``)."""
        return True

    def records(self, split: str) -> tuple[Record, ...]:
        """The records of ``split`` (cached), before any filter."""
        self.check_split(split)
        if split not in self._records:
            self._records[split] = tuple(self.load(split))
            self._by_id.update((r.id, r) for r in self._records[split])
        return self._records[split]

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[MathAnswer]]:
        # The file fixes the problems; the seed only matters to procedural tasks.
        for record in self.records(split):
            if self.keep(record):
                yield Problem(
                    id=record.id,
                    task=self.name,
                    prompt=record.prompt,
                    reference=MathAnswer(text=record.answer),
                    metadata=record.metadata,
                )

    def reference_solution(self, problem: Problem[MathAnswer]) -> str | None:
        """The dataset's own solution with a single boxed final answer at the end."""
        if problem.id not in self._by_id:
            for split in self.splits:
                self.records(split)
        record = self._by_id.get(problem.id)
        if record is None or record.prompt != problem.prompt:
            return None
        return f"{unbox(record.solution).rstrip()}\n\n{final_line(problem.reference.text)}"

"""MATH (task ``math``) and MATH-500 (task ``math500``), competition problems with LaTeX
answers.

Local data under the data dir: ``math/test.jsonl`` (the full 5,000-problem MATH test split:
problem, level "Level 3", type, solution, unique_id) and ``math500/test.jsonl`` (problem,
solution, answer, subject, level, unique_id). The gold answer is MATH-500's ``answer`` field,
or for MATH the content of the last ``\\boxed{}`` of the solution.

``math`` split "test" is MATH-500; split "train" is the 4,500 other MATH test problems (the
PRM800K split), so training on ``math``/train never sees a ``math500`` problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field, field_validator

from verigen.errors import UsageError
from verigen.task import TaskArgs
from verigen_tasks.data import field_str
from verigen_tasks.math._dataset import DatasetMathTask, HubSource, Record, Row, read_rows
from verigen_tasks.math._latex import last_boxed

SUBJECTS = (
    "algebra", "counting_and_probability", "geometry", "intermediate_algebra",
    "number_theory", "prealgebra", "precalculus",
)
_MATH500_LOCAL = ("math500/test.jsonl", "math500/test.jsonl.gz")
_MATH_LOCAL = ("math/test.jsonl", "math/test.jsonl.gz")
_MATH500_HUB = (HubSource(name="HuggingFaceH4/MATH-500", config=None, split="test"),)
_MATH_HUB = tuple(HubSource(name="EleutherAI/hendrycks_math", config=s, split="test")
                  for s in SUBJECTS)


def subject_slug(subject: str) -> str:
    """``"Counting & Probability"`` -> ``"counting_and_probability"``."""
    return re.sub(r"[^a-z]+", "_", subject.lower().replace("&", "and")).strip("_")


class MathArgs(TaskArgs):
    """Optional filters: ``level`` 1..5 and ``subject`` (e.g. algebra, "Number Theory")."""

    level: int | None = Field(default=None, ge=1, le=5)
    subject: str | None = None

    @field_validator("subject")
    @classmethod
    def _known_subject(cls, value: str | None) -> str | None:
        if value is None:
            return None
        slug = subject_slug(value)
        if slug not in SUBJECTS:
            raise ValueError(f"unknown subject {value!r} (known: {', '.join(SUBJECTS)})")
        return slug


def _level(row: Row) -> int | None:
    """``level`` as 1..5: MATH-500 stores an int, MATH "Level 3" ("Level ?" means unknown)."""
    value = row.data.get("level")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"(?:Level\s*)?(\d|\?)", value.strip())
        if match is not None:
            return int(match[1]) if match[1] != "?" else None
    raise UsageError(
        f"{row.path}:{row.line}: field 'level' must be 1-5 or 'Level N', got {value!r}"
    )


def _unique_id(row: Row, subject: str) -> str:
    # Hub copies of MATH have no unique_id; local files must carry it.
    if "unique_id" not in row.data and row.path.as_posix().startswith("hub:"):
        return f"hendrycks_math/{subject_slug(subject)}/{row.line}"
    return field_str(row.path, row.line, row.data, "unique_id")


def math500_record(row: Row) -> Record:
    """A MATH-500 row: the ``answer`` field is the gold answer."""
    subject = field_str(row.path, row.line, row.data, "subject")
    return Record(
        id=_unique_id(row, subject),
        prompt=field_str(row.path, row.line, row.data, "problem"),
        answer=field_str(row.path, row.line, row.data, "answer"),
        solution=field_str(row.path, row.line, row.data, "solution"),
        metadata={"source": "MATH-500", "level": _level(row), "subject": subject},
    )


def math_record(row: Row) -> Record:
    """A MATH row: the gold answer is the content of the solution's last ``\\boxed{}``."""
    subject = field_str(row.path, row.line, row.data, "type")
    solution = field_str(row.path, row.line, row.data, "solution")
    answer = last_boxed(solution)
    if not answer:
        raise UsageError(f"{row.path}:{row.line}: field 'solution' has no \\boxed{{}} answer")
    return Record(
        id=_unique_id(row, subject),
        prompt=field_str(row.path, row.line, row.data, "problem"),
        answer=answer,
        solution=solution,
        metadata={"source": "MATH", "level": _level(row), "subject": subject},
    )


class _FilteredMathTask(DatasetMathTask):
    Args = MathArgs

    def keep(self, record: Record) -> bool:
        args = self.typed_args(MathArgs)
        if args.level is not None and record.metadata.get("level") != args.level:
            return False
        subject = subject_slug(str(record.metadata.get("subject")))
        return args.subject is None or subject == args.subject

    def _math500(self) -> Iterator[Record]:
        for row in read_rows(self.ctx, self.name, _MATH500_LOCAL, _MATH500_HUB):
            yield math500_record(row)


class Math500(_FilteredMathTask):
    """MATH-500: the 500-problem held-out subset of the MATH test split."""

    name = "math500"
    description = "MATH-500 competition math, 500 held-out problems (test only)"
    splits = ("test",)

    def load(self, split: str) -> Iterator[Record]:
        return self._math500()


class Math(_FilteredMathTask):
    """MATH: train = the 4,500 MATH test problems outside MATH-500; test = MATH-500."""

    name = "math"
    description = "MATH competition math: train 4,500 / test = MATH-500's 500"
    splits = ("train", "test")

    def load(self, split: str) -> Iterator[Record]:
        if split == "test":
            yield from self._math500()
            return
        held_out = self.records("test")
        ids = {r.id for r in held_out}
        prompts = {r.prompt.strip() for r in held_out}  # hub rows have no unique_id
        for row in read_rows(self.ctx, self.name, _MATH_LOCAL, _MATH_HUB):
            record = math_record(row)
            if record.id not in ids and record.prompt.strip() not in prompts:
                yield record

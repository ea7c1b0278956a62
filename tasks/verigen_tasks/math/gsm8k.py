"""GSM8K (task ``gsm8k``): grade-school word problems; the gold answer follows ``####``.

Local data: ``gsm8k/{split}.jsonl`` (fields question, answer) under the data dir; without
it, the hub data set ``openai/gsm8k`` (config ``main``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from verigen.errors import UsageError
from verigen_tasks.data import field_str
from verigen_tasks.math._dataset import DatasetMathTask, HubSource, Record, Row, read_rows

_CALC_RE = re.compile(r"<<[^<>]*>>")  # calculator annotations: "<<16-3-4=9>>"
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")


def parse_answer(row: Row) -> tuple[str, str]:
    """(worked solution without calculator annotations, final answer without commas)."""
    text = field_str(row.path, row.line, row.data, "answer")
    body, sep, final = text.rpartition("####")
    final = final.strip().replace(",", "")
    if not sep or not _NUMBER_RE.fullmatch(final):
        raise UsageError(
            f"{row.path}:{row.line}: field 'answer' must end with '#### <number>', "
            f"got {text[-40:]!r}"
        )
    return _CALC_RE.sub("", body).strip(), final


class GSM8K(DatasetMathTask):
    """The GSM8K train (7,473) and test (1,319) problems."""

    name = "gsm8k"
    description = "GSM8K grade-school math word problems (train/test)"
    splits = ("train", "test")

    def load(self, split: str) -> Iterator[Record]:
        rows = read_rows(
            self.ctx,
            self.name,
            (f"gsm8k/{split}.jsonl", f"gsm8k/{split}.jsonl.gz"),
            (HubSource(name="openai/gsm8k", config="main", split=split),),
        )
        for index, row in enumerate(rows):
            question = field_str(row.path, row.line, row.data, "question")
            solution, answer = parse_answer(row)
            yield Record(
                id=f"gsm8k/{split}/{index}",
                prompt=question,
                answer=answer,
                solution=solution,
                metadata={"source": "gsm8k"},
            )

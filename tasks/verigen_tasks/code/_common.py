"""Shared parts of the code and puzzle tasks: row sources, the verifier factory, prompts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verigen.task import Task
from verigen.types import JSONValue
from verigen.verify.base import Verifier
from verigen.verify.code import CodeVerifier, TestSuite
from verigen_tasks.data import find_local, load_hub, read_jsonl

FENCE_INSTRUCTION = "Answer with the complete code in a single ```python code block."


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One data row with where it came from (for error messages)."""

    path: Path
    line: int
    data: dict[str, JSONValue]


def jsonl_rows(path: Path) -> Iterator[Row]:
    for line, data in read_jsonl(path):
        yield Row(path=path, line=line, data=data)


def rows_or_hub(task: Task[Any], local: tuple[str, ...], hub: tuple[str, str | None, str]) -> Iterator[Row]:
    """Rows of the first local file in ``local`` (JSONL, optionally gzipped), else the hub."""
    path = find_local(task.ctx, *local)
    if path is not None:
        yield from jsonl_rows(path)
        return
    name, config, split = hub
    for index, data in enumerate(load_hub(task.name, name, config, split)):
        yield Row(path=Path(f"hub:{name}"), line=index + 1, data=data)


def fenced(code: str) -> str:
    return "```python\n" + code.rstrip("\n") + "\n```"


class CodeTask(Task[TestSuite]):
    """Base of the tasks whose reference is a ``TestSuite``."""

    family = "code"
    needs_sandbox = True

    def verifier(self) -> Verifier:
        return CodeVerifier(sandbox=self.ctx.sandbox)

    def decode_reference(self, data: JSONValue) -> TestSuite:
        return TestSuite.from_json(data)

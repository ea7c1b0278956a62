"""MBPP (task ``mbpp``): short Python programming problems with three asserts each.

Local data: ``mbpp/mbpp.jsonl`` (variant ``full``) or ``mbpp/sanitized-mbpp.json``
(variant ``sanitized``) under the data dir; without them, the hub data set ``mbpp``.
Splits follow the MBPP paper by task id: prompt 1-10, test 11-510, validation 511-600,
train 601-974. The prompt shows the text and the first assert (for the function name and
signature); every assert of ``test_list`` is one test (``challenge_test_list`` too with
``challenge=true``); ``test_setup_code`` / ``test_imports`` run as trusted setup.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, cast

from verigen.errors import UsageError
from verigen.task import TaskArgs
from verigen.types import JSONValue, Problem
from verigen.verify.code import TestSuite
from verigen_tasks.code._common import FENCE_INSTRUCTION, CodeTask, Row, fenced, rows_or_hub
from verigen_tasks.data import field_str, find_local, load_hub, read_json

SPLIT_IDS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
TIMEOUT_FLOOR_S = 3.0


class MBPPArgs(TaskArgs):
    variant: Literal["full", "sanitized"] = "full"
    challenge: bool = False


def entry_point(code: str, tests: list[str]) -> str:
    """The reference's top-level function that the tests call first."""
    try:
        with warnings.catch_warnings():  # old references have invalid escapes in strings
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
        defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    except SyntaxError:
        defined = re.findall(r"^def\s+(\w+)", code, re.MULTILINE)
    joined = "\n".join(tests)
    called = [(m.start(), m.group(1)) for m in re.finditer(r"\b(\w+)\s*\(", joined)]
    for _, name in sorted(called):
        if name in defined:
            return name
    return defined[-1] if defined else ""


def _str_list(row: Row, key: str) -> list[str]:
    value = row.data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{row.path}:{row.line}: field {key!r} must be a list of strings")
    return [str(v) for v in value]


class MBPP(CodeTask):
    """Mostly Basic Python Problems (full or sanitized)."""

    name = "mbpp"
    description = "MBPP: basic Python problems checked by asserts (full or sanitized)"
    splits = ("train", "test", "validation", "prompt")
    Args = MBPPArgs

    def _rows(self) -> Iterator[Row]:
        args = cast(MBPPArgs, self.args)
        if args.variant == "full":
            yield from rows_or_hub(self, ("mbpp/mbpp.jsonl",), ("mbpp", "full", "train+validation+test+prompt"))
            return
        path = find_local(self.ctx, "mbpp/sanitized-mbpp.json")
        if path is None:
            hub = load_hub(self.name, "mbpp", "sanitized", "train+validation+test+prompt")
            yield from (Row(path=Path("hub:mbpp"), line=i + 1, data=d) for i, d in enumerate(hub))
            return
        data = read_json(path)
        if not isinstance(data, list):
            raise UsageError(f"{path}: expected a JSON list of problems")
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise UsageError(f"{path}: item {i} is not an object")
            yield Row(path=path, line=i + 1, data=item)

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[TestSuite]]:
        self.check_split(split)
        low, high = SPLIT_IDS[split]
        for row in self._rows():
            task_id = row.data.get("task_id")
            if not isinstance(task_id, int) or not low <= task_id <= high:
                continue
            yield self._problem(row, task_id)

    def _problem(self, row: Row, task_id: int) -> Problem[TestSuite]:
        args = cast(MBPPArgs, self.args)
        text_key = "text" if "text" in row.data else "prompt"
        text = field_str(row.path, row.line, row.data, text_key)
        code = field_str(row.path, row.line, row.data, "code")
        tests = _str_list(row, "test_list")
        if args.challenge:
            tests += _str_list(row, "challenge_test_list")
        setup_parts = _str_list(row, "test_imports")
        setup_code = row.data.get("test_setup_code")
        if isinstance(setup_code, str) and setup_code.strip():
            setup_parts.append(setup_code)
        entry = entry_point(code, tests)
        suite = TestSuite(kind="function", entry_point=entry, setup="\n".join(setup_parts),
                          tests=tuple(tests), timeout_s=TIMEOUT_FLOOR_S, reference=code)
        prompt = (
            f"You are an expert Python programmer, and here is your task: {text} "
            f"Your code should pass this test:\n\n{fenced(tests[0])}\n\n{FENCE_INSTRUCTION}"
        )
        metadata: dict[str, JSONValue] = {"entry_point": entry, "task_id": task_id}
        return Problem(id=f"mbpp/{task_id}", task=self.name, prompt=prompt, reference=suite,
                       metadata=metadata)  # type: ignore[arg-type]

    def reference_solution(self, problem: Problem[TestSuite]) -> str | None:
        return problem.reference.reference

"""APPS-style problems (task ``apps``): stdin/stdout programs and call-based functions.

``file`` (relative to the data dir, or absolute) is a JSONL of problems in one of:

- the Hugging Face ``codeparrot/apps`` layout: ``problem_id``, ``question``,
  ``starter_code``, ``input_output`` (a JSON string with ``inputs``/``outputs`` and, for
  call-based problems, ``fn_name``; inputs are argument lists, outputs ``[result]``) and
  optionally ``solutions`` (a JSON string list: the first one is the reference);
- MapCoder's layout (``apps/selected150.jsonl``): ``id``, ``description``,
  ``starter_code``, ``test_list`` of ``{"input": str, "output": [value]}``; with starter
  code the problem is call-based and each input line is one argument (a JSON / Python
  literal, else the raw string);
- any JSONL with ``id``, ``question``/``description``/``prompt`` and ``tests``/``cases``
  of ``{"input": str, "output": str}`` (stdin/stdout), optionally ``fn_name``.

Rows without tests are skipped. APPS test problems carry no reference solutions:
``reference_solution`` is then None and the self-check only shows that trivial programs
are rejected.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from verigen.errors import UsageError
from verigen.task import TaskArgs
from verigen.types import JSONValue, Problem
from verigen.verify.code import IOCase, TestSuite
from verigen_tasks.code._common import FENCE_INSTRUCTION, CodeTask, Row, fenced, jsonl_rows
from verigen_tasks.data import require_local

_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(", re.MULTILINE)


class APPSArgs(TaskArgs):
    file: str = "apps/apps_10.jsonl"
    timeout_s: float = 4.0  # per test case (stdio) or per program (call-based)
    max_cases: int | None = None


def _text(value: JSONValue) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return "" if value is None else str(value)


def _literal(line: str) -> JSONValue:
    """One MapCoder argument line: JSON, else a Python literal, else the raw string."""
    try:
        parsed: JSONValue = json.loads(line)
        return parsed
    except ValueError:
        pass
    try:
        value = ast.literal_eval(line)
        json.dumps(value)
        return value  # type: ignore[no-any-return]
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return line


def _fn_name(starter: str) -> str:
    names = _DEF.findall(starter)
    return names[-1] if names else ""


def parse_cases(row: Row) -> tuple[str, tuple[IOCase, ...], str | None]:
    """(fn_name or "", cases, reference or None) of a row in any supported layout."""
    data = row.data
    starter = _text(data.get("starter_code"))
    reference = None
    if "input_output" in data:
        raw = data.get("input_output") or "{}"
        io = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(io, dict):
            raise UsageError(f"{row.path}:{row.line}: input_output is not a JSON object")
        fn = str(io.get("fn_name") or "")
        inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            raise UsageError(f"{row.path}:{row.line}: input_output inputs and outputs must be JSON lists")
        pairs = list(zip(inputs, outputs))
        if fn:
            cases = tuple(IOCase(input=json.dumps(i), output=json.dumps(o)) for i, o in pairs)
        else:
            cases = tuple(IOCase(input=_text(i), output=_text(o)) for i, o in pairs)
        sols = data.get("solutions")
        sols = json.loads(sols) if isinstance(sols, str) and sols else sols
        if isinstance(sols, list) and sols:
            reference = str(sols[0])
        return fn, cases, reference
    tests = data.get("test_list") or data.get("tests") or data.get("cases") or []
    if not isinstance(tests, list):
        raise UsageError(f"{row.path}:{row.line}: tests must be a list")
    fn = str(data.get("fn_name") or _fn_name(starter))
    out: list[IOCase] = []
    for t in tests:
        if not isinstance(t, dict):
            raise UsageError(f"{row.path}:{row.line}: each test must be an object")
        if fn:
            args = [_literal(a) for a in str(t.get("input", "")).split("\n")]
            out.append(IOCase(input=json.dumps(args), output=json.dumps(t.get("output"))))
        else:
            out.append(IOCase(input=_text(t.get("input")), output=_text(t.get("output"))))
    return fn, tuple(out), reference


class APPS(CodeTask):
    """APPS-style problems from a JSONL file (see the module docstring for layouts)."""

    name = "apps"
    description = "APPS-style problems: stdin/stdout and call-based tests from a JSONL file"
    splits = ("test",)
    Args = APPSArgs

    def _path(self) -> Path:
        args = cast(APPSArgs, self.args)
        if Path(args.file).is_absolute():
            if not Path(args.file).is_file():
                raise UsageError(f"task 'apps': file {args.file!r} does not exist")
            return Path(args.file)
        return require_local(self.ctx, self.name, args.file)

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[TestSuite]]:
        self.check_split(split)
        args = cast(APPSArgs, self.args)
        seen: set[str] = set()
        for row in jsonl_rows(self._path()):
            fn, cases, reference = parse_cases(row)
            if not cases:
                continue
            ident = str(row.data.get("problem_id", row.data.get("id", row.data.get("name", row.line))))
            pid = f"apps/{ident}" if ident not in seen else f"apps/{ident}@{row.line}"
            seen.add(ident)
            yield self._problem(row, pid, fn, cases[: args.max_cases], reference)

    def _problem(self, row: Row, pid: str, fn: str, cases: tuple[IOCase, ...],
                 reference: str | None) -> Problem[TestSuite]:
        args = cast(APPSArgs, self.args)
        data = row.data
        question = _text(data.get("question") or data.get("description") or data.get("prompt"))
        starter = _text(data.get("starter_code"))
        suite = TestSuite(kind="call" if fn else "stdio", entry_point=fn, prefix=starter,
                          cases=cases, timeout_s=args.timeout_s, reference=reference)
        if fn:
            how = f"Write the Python function `{fn}` (starter code below); it is called with the inputs as arguments."
            how += f"\n\n{fenced(starter)}" if starter.strip() else ""
        else:
            how = "Write a Python program that reads the input from standard input and prints the answer to standard output."
        prompt = f"{question.strip()}\n\n{how}\n\n{FENCE_INSTRUCTION}"
        return Problem(id=pid, task=self.name, prompt=prompt, reference=suite,
                       metadata={"kind": suite.kind, "difficulty": str(data.get("difficulty", ""))})

    def reference_solution(self, problem: Problem[TestSuite]) -> str | None:
        return problem.reference.reference

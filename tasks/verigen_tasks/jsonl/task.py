"""Task ``jsonl``: problems from a user's data file, with no code.

``--task-arg path=FILE --task-arg kind=math|function|stdio|puzzle``; the row layout of each
kind is in ``verigen_tasks.jsonl._kinds``. Column names map with ``<field>_field=COLUMN``
(``prompt_field=question``), so a Hugging Face data set saved as JSON / Parquet / CSV or as
a ``save_to_disk`` folder works as it is. Every row is read and validated when the task is
created: one bad row raises ``UsageError`` naming file, line and field before anything runs.

Splits: ``split_field=COLUMN`` (each row's value is its split), or ``test_fraction=F`` (a
seeded hash of the id sends a fraction F of rows to ``test``, the rest to ``train``), or the
source's own splits (a ``DatasetDict``, a JSON object of lists); otherwise every row is in
one split, ``all``. Ids: ``id_field`` (default ``id``) when the row has it, else a stable
hash of the prompt. ``fewshot_path=FILE`` gives curated few-shot examples in the same
layout (each needs a known-good answer).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from pydantic import Field

from verigen.errors import UsageError
from verigen.prompting import FewShotExample
from verigen.task import Family, Task, TaskArgs, TaskContext
from verigen.types import ChatMessage, JSONValue, Problem
from verigen.verify.base import Verifier
from verigen.verify.code import CodeVerifier, TestSuite
from verigen.verify.math.answer import MathAnswer
from verigen.verify.puzzle import Puzzle, PuzzleVerifier
from verigen_tasks.jsonl._fields import Fields
from verigen_tasks.jsonl._kinds import DEFAULT_TIMEOUT_S, Kind, Options, Parsed, parse
from verigen_tasks.jsonl._source import Row, read_rows
from verigen_tasks.math._common import SYSTEM_PROMPT

FIELDS = ("prompt", "messages", "answer", "tests", "entry_point", "setup", "prefix", "reference",
          "cases", "sat", "ans_type", "sol", "id")
FAMILY: dict[str, Family] = {"math": "math", "function": "code", "stdio": "code", "puzzle": "puzzle"}


class JSONLArgs(TaskArgs):
    """Where the rows are, what kind they are, and which column holds each field."""

    path: str = Field(description="data file or folder: .jsonl/.json natively; .parquet/.csv/folders via datasets")
    kind: Kind = Field(default="math", description="how rows are graded")
    prompt_field: str = Field(default="prompt", description="column of the prompt (the question)")
    messages_field: str = Field(default="messages", description="column of a chat ending with the question")
    answer_field: str = Field(default="answer", description="math: bare answer, \\boxed{} solution or '... #### N'")
    tests_field: str = Field(default="tests", description="function: assert snippets")
    entry_point_field: str = Field(default="entry_point", description="function: the function's name")
    setup_field: str = Field(default="setup", description="function: trusted test setup code")
    prefix_field: str = Field(default="prefix", description="function: code the completion continues")
    reference_field: str = Field(default="reference", description="function/stdio: a known-good solution")
    cases_field: str = Field(default="cases", description="stdio: [{input, output}] or {inputs, outputs}")
    sat_field: str = Field(default="sat", description="puzzle: source of sat(x, ...)")
    ans_type_field: str = Field(default="ans_type", description="puzzle: the answer's type (else sat's annotation)")
    sol_field: str = Field(default="sol", description="puzzle: a known-good sol() or its body")
    id_field: str = Field(default="id", description="column of the id (else a hash of the prompt)")
    split_field: str | None = Field(default=None, description="column whose value is the row's split")
    test_fraction: float | None = Field(default=None, gt=0.0, lt=1.0, description="seeded-hash share of rows in 'test'")
    split_seed: int = 0
    timeout_s: float | None = Field(default=None, gt=0.0, description="per-program limit floor (code kinds)")
    instruction: str | None = Field(default=None, description="text after a code prompt; '' for none")
    fewshot_path: str | None = Field(default=None, description="curated few-shot examples, same layout")


def _resolve(path: str, ctx: TaskContext) -> Path:
    """``path`` as given, else relative to the data dir."""
    candidate = Path(path).expanduser()
    if candidate.exists() or candidate.is_absolute() or ctx.data_dir is None:
        return candidate
    return ctx.data_dir / candidate


def stable_id(key: str) -> str:
    return "jsonl/" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class JSONL(Task[object]):
    """Problems from your data file: --task-arg path=FILE --task-arg kind=math|function|stdio|puzzle.
    Map columns with FIELD_field=COLUMN; split with split_field=COLUMN or test_fraction=F
    (else one split, 'all'); the guide is docs/plugins.md."""

    name = "jsonl"
    family: Family = "math"  # the default kind; an instance takes its kind's family
    splits: tuple[str, ...] = ("all",)  # without split settings; an instance takes its data's splits
    description = "Problems from your own JSON/JSONL/Parquet/CSV file: kind=math|function|stdio|puzzle"
    Args = JSONLArgs

    def __init__(self, args: TaskArgs, ctx: TaskContext) -> None:
        super().__init__(args, ctx)
        a = cast(JSONLArgs, args)
        self.family = FAMILY[a.kind]
        self.system_prompt = SYSTEM_PROMPT if a.kind == "math" else None
        timeout = a.timeout_s if a.timeout_s is not None else DEFAULT_TIMEOUT_S[a.kind]
        self._opts = Options(kind=a.kind, timeout_s=timeout, instruction=a.instruction)
        self._columns = {f: str(getattr(a, f"{f}_field")) for f in FIELDS}
        self._path = _resolve(a.path, ctx)
        self._by_split: dict[str, list[Problem[object]]] = {}
        self._turns: dict[str, tuple[ChatMessage, ...]] = {}
        self._solutions: dict[str, str | None] = {}
        self._load()
        self.splits = tuple(sorted(self._by_split, key=lambda s: ({"train": 0, "test": 1}.get(s, 2), s)))
        self._curated = self._load_curated(a.fewshot_path)

    # Reading and validating ------------------------------------------------------------

    def _load(self) -> None:
        a = cast(JSONLArgs, self.args)
        rows = read_rows(self._path)
        if not rows:
            raise UsageError(f"task 'jsonl': {str(self._path)!r} holds no rows")
        seen: dict[str, str] = {}
        for row in rows:
            problem = self._problem(row)
            if problem.id in seen:
                hint = "" if self._has_id(row) else f" (same prompt; give the rows a {a.id_field!r} column)"
                raise UsageError(f"{row.where}: problem id {problem.id!r} repeats {seen[problem.id]}{hint}")
            seen[problem.id] = row.where
            self._by_split.setdefault(self._split_of(row, problem.id), []).append(problem)

    def _has_id(self, row: Row) -> bool:
        return row.data.get(self._columns["id"]) not in (None, "")

    def _problem(self, row: Row) -> Problem[object]:
        f = Fields(row, self._columns)
        pid = self._row_id(f)
        parsed: Parsed = parse(f, self._opts, pid)
        self._turns[pid] = parsed.turns
        self._solutions[pid] = parsed.solution
        metadata = {"source": row.where, "kind": self._opts.kind}
        return Problem(id=pid, task=self.name, prompt=parsed.turns[-1].content, reference=parsed.reference,
                       metadata=metadata)

    def _row_id(self, f: Fields) -> str:
        if self._has_id(f.row):
            value = f.raw("id")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise f.error("id", f"must be a string or an integer, got {type(value).__name__}")
            return str(value)
        if f.has("messages"):
            return stable_id(json.dumps([m.to_json() for m in f.messages("messages")], sort_keys=True))
        if f.has("prompt"):
            return stable_id(f.text("prompt"))
        if self._opts.kind == "puzzle" and f.has("sat"):
            return stable_id(f.text("sat"))
        raise UsageError(f"{f.row.where}: needs {f.label('prompt')} or {f.label('messages')}")

    def _split_of(self, row: Row, pid: str) -> str:
        a = cast(JSONLArgs, self.args)
        if a.split_field is not None:
            value = row.data.get(a.split_field)
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{row.where}: split column {a.split_field!r} must hold a split name, got {value!r}")
            return value.strip()
        if a.test_fraction is not None:
            digest = hashlib.sha256(f"{a.split_seed}:{pid}".encode()).digest()
            return "test" if int.from_bytes(digest[:8], "big") / 2**64 < a.test_fraction else "train"
        return row.source_split or "all"

    def _load_curated(self, path: str | None) -> tuple[FewShotExample, ...]:
        if path is None:
            return ()
        examples = []
        for row in read_rows(_resolve(path, self.ctx)):
            f = Fields(row, self._columns)
            parsed = parse(f, self._opts, self._row_id(f))
            answer = self._as_answer(parsed.solution)
            if answer is None:
                raise UsageError(f"{row.where}: a few-shot example needs a known-good answer (reference / sol)")
            examples.append(FewShotExample(prompt=parsed.turns[-1].content, answer=answer, source=row.where))
        return tuple(examples)

    def _as_answer(self, solution: str | None) -> str | None:
        if solution is not None and self.family != "math" and "```" not in solution:
            return "```python\n" + solution.rstrip("\n") + "\n```"
        return solution

    # The task interface -----------------------------------------------------------------

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[object]]:
        # The file fixes the problems; the seed only matters to few-shot draws.
        self.check_split(split)
        yield from self._by_split[split]

    def prompt_turns(self, problem: Problem[object]) -> tuple[ChatMessage, ...]:
        turns = self._turns.get(problem.id)
        if turns is None or turns[-1].content != problem.prompt:
            return super().prompt_turns(problem)
        return turns

    def fewshot_examples(self) -> tuple[FewShotExample, ...]:
        return self._curated

    def verifier(self) -> Verifier:
        if self.family == "math":
            from verigen.verify.math.verifier import MathVerifier  # SymPy: imported only here

            verifier: Verifier = MathVerifier()
            return verifier
        if self.family == "puzzle":
            return PuzzleVerifier(sandbox=self.ctx.sandbox)
        return CodeVerifier(sandbox=self.ctx.sandbox)

    def reference_solution(self, problem: Problem[object]) -> str | None:
        return self._solutions.get(problem.id)

    def decode_reference(self, data: JSONValue) -> object:
        if self.family == "math":
            return MathAnswer.from_json(data)
        if self.family == "puzzle":
            return Puzzle.from_json(data)
        return TestSuite.from_json(data)

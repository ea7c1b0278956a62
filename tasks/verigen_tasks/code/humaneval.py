"""HumanEval (task ``humaneval``): 164 hand-written function-completion problems.

Local data: ``humaneval/HumanEval.jsonl.gz`` under the data dir; without it, the hub data
set ``openai/openai_humaneval``. The candidate program is the prompt + completion, or the
prompt followed by the completion when the completion redefines the function; the tests
are the problem's ``check`` function, run by the harness on the candidate's entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from verigen.types import Problem
from verigen.verify.code import TestSuite
from verigen_tasks.code._common import FENCE_INSTRUCTION, CodeTask, fenced, rows_or_hub
from verigen_tasks.data import field_str

TIMEOUT_FLOOR_S = 3.0


class HumanEval(CodeTask):
    """OpenAI HumanEval (test split only)."""

    name = "humaneval"
    description = "HumanEval: 164 Python function completions checked by unit tests"
    splits = ("test",)

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[TestSuite]]:
        self.check_split(split)
        rows = rows_or_hub(self, ("humaneval/HumanEval.jsonl.gz", "humaneval/HumanEval.jsonl"),
                           ("openai/openai_humaneval", None, "test"))
        for row in rows:
            get: Callable[[str], str] = lambda key, row=row: field_str(row.path, row.line, row.data, key)  # type: ignore[misc]  # noqa: E731
            prompt, entry = get("prompt"), get("entry_point")
            suite = TestSuite(
                kind="function",
                entry_point=entry,
                prefix=prompt,
                setup=get("test"),
                tests=(f"check({entry})",),
                timeout_s=TIMEOUT_FLOOR_S,
                reference=get("canonical_solution"),
            )
            yield Problem(
                id=get("task_id"),
                task=self.name,
                prompt=(
                    f"Complete the Python function `{entry}` below.\n\n{fenced(prompt)}\n\n"
                    f"{FENCE_INSTRUCTION}"
                ),
                reference=suite,
                metadata={"entry_point": entry},
            )

    def reference_solution(self, problem: Problem[TestSuite]) -> str | None:
        return problem.reference.reference

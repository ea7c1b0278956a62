"""Python Programming Puzzles (task ``p3``): find ``x`` with ``sat(x) is True``.

Local data: ``p3/puzzles.json`` (a list of puzzles: name, sat, ans_type, sol_header,
sol_docstring, sol_bodies, module, notes, weight) and ``p3/split.json`` (``{"train":
[family, ...], "test": [family, ...]}``; a puzzle's family is its name before ``:``).
Families listed in neither split are not served. The reference solution is the header,
docstring and first body; the self-check covers every body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from verigen.errors import UsageError
from verigen.task import Task, TaskArgs
from verigen.types import JSONValue, Problem
from verigen.verify.base import Verifier
from verigen.verify.puzzle import Puzzle, PuzzleVerifier
from verigen_tasks.code._common import FENCE_INSTRUCTION, fenced
from verigen_tasks.data import read_json, require_local

# Reference bodies that cannot be verified within the sandbox limits, with the reason.
KNOWN_UNVERIFIABLE = {
    "ExponentialCoinMoves:0": "the answer (coin states with integers of thousands of digits) "
    "is over the 64 MiB answer cap (verigen.verify.puzzle.ANSWER_MAX_BYTES)",
}


class P3Args(TaskArgs):
    timeout_s: float = 10.0  # floor of sol()'s time limit (scaled by the reference's time)
    sat_timeout_s: float = 10.0


def family(name: str) -> str:
    return name.split(":", 1)[0]


def _as_puzzle(item: JSONValue, index: int, args: P3Args) -> Puzzle:
    if not isinstance(item, dict):
        raise UsageError(f"p3/puzzles.json: item {index} is not an object")
    data = dict(item)
    data["timeout_s"] = args.timeout_s
    data["sat_timeout_s"] = args.sat_timeout_s
    return Puzzle.from_json(data)


class P3(Task[Puzzle]):
    """P3 puzzles, split into train and test by puzzle family (``split.json``)."""

    name = "p3"
    family = "puzzle"
    needs_sandbox = True
    description = "Python Programming Puzzles (P3): write sol() so that sat(sol()) is True"
    splits = ("train", "test")
    Args = P3Args

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[Puzzle]]:
        self.check_split(split)
        args = cast(P3Args, self.args)
        splits = read_json(require_local(self.ctx, self.name, "p3/split.json"))
        puzzles = read_json(require_local(self.ctx, self.name, "p3/puzzles.json"))
        if not isinstance(splits, dict) or not isinstance(splits.get(split), list):
            raise UsageError(f"p3/split.json: expected an object with a list under {split!r}")
        if not isinstance(puzzles, list):
            raise UsageError("p3/puzzles.json: expected a JSON list of puzzles")
        families = {str(f) for f in cast(list[JSONValue], splits[split])}
        for index, item in enumerate(puzzles):
            puzzle = _as_puzzle(item, index, args)
            if family(puzzle.name) in families:
                yield Problem(id=f"p3/{puzzle.name}", task=self.name, prompt=prompt(puzzle),
                              reference=puzzle, metadata={"module": puzzle.module})

    def verifier(self) -> Verifier:
        return PuzzleVerifier(sandbox=self.ctx.sandbox)

    def reference_solution(self, problem: Problem[Puzzle]) -> str | None:
        ref = problem.reference.reference(0)
        return None if ref is None else fenced(ref)

    def decode_reference(self, data: JSONValue) -> Puzzle:
        return Puzzle.from_json(data)


def prompt(puzzle: Puzzle) -> str:
    """Show ``sat`` and ask for ``sol()`` returning a value of ``ans_type``."""
    header = "\n".join(p for p in (puzzle.sol_header, puzzle.sol_docstring) if p)
    return (
        "Find an input that makes this Python function return True:\n\n"
        f"{fenced(puzzle.sat)}\n\n"
        f"Write a function `sol()` that returns such an input, of type `{puzzle.ans_type}` "
        "exactly (for example, a bool is not an int). Start from this header; keep any "
        f"parameters with their default values:\n\n{fenced(header)}\n\n{FENCE_INSTRUCTION}"
    )

"""Programming-puzzle verifier (P3: find ``x`` such that ``sat(x) is True``).

Two sandboxed runs per candidate, so nothing the candidate does can patch ``sat``:

1. the candidate program defines ``sol()``; the harness calls it, checks the answer's type
   exactly (``type(x) is T`` recursively: ``bool`` is not ``int``) and reports it as JSON;
2. the host parses that JSON, checks the type again, and a fresh run that contains only the
   puzzle's ``sat`` and the JSON answer checks ``sat(answer) is True``.

Timeouts: ``timeout_s`` for ``sol``; a candidate that times out runs again under
``max(timeout_s, 4 x reference run time)`` when the puzzle has a reference body (measured
once per puzzle, when first needed); ``sat_timeout_s`` for ``sat``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from verigen.errors import UsageError
from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import Limits
from verigen.types import JSONValue, Outcome, Problem, Verdict
from verigen.verify._code_compare import loads
from verigen.verify._code_exec import (
    HarnessJob,
    LazySandbox,
    RefTimes,
    RunVerdict,
    extract_code,
    run_harness,
)
from verigen.verify._sat_probe import TYPING_PRELUDE, ProbeResult, run_probes
from verigen.verify.code import defines

__all__ = ["TYPING_PRELUDE", "Puzzle", "PuzzleVerifier", "answer_type_ok"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Puzzle:
    """One P3 puzzle. ``sat`` is source defining ``sat(answer, ...)``; ``ans_type`` is the
    answer's type as written in P3 (``"List[int]"``, ``"Dict[str, int]"``, ...).

    ``sat_trusted``: P3's own puzzles are trusted data, so ``sat(answer)`` runs on the
    harness's trusted side. A model-written ``sat`` (self-play) is not: it could forge that
    side's report, so with ``sat_trusted=False`` it runs as the untrusted candidate in the
    peer process and only the plain value it returns is read."""

    name: str
    sat: str
    ans_type: str
    sol_header: str = "def sol():"
    sol_docstring: str = ""
    sol_bodies: tuple[str, ...] = ()
    module: str = ""
    notes: str = ""
    weight: float = 1.0
    timeout_s: float = 10.0
    sat_timeout_s: float = 10.0
    memory_mb: int = 1024
    sat_trusted: bool = True

    def __post_init__(self) -> None:
        try:
            parse_type(self.ans_type)
        except ValueError:
            raise UsageError(f"puzzle {self.name!r}: unsupported ans_type {self.ans_type!r}") from None

    def reference(self, body: int = 0) -> str | None:
        """Header + docstring + ``sol_bodies[body]``; None when the puzzle has no body."""
        if body >= len(self.sol_bodies):
            return None
        parts = [self.sol_header, self.sol_docstring, self.sol_bodies[body]]
        return "\n".join(p for p in parts if p) + "\n"

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "name": self.name, "sat": self.sat, "ans_type": self.ans_type,
            "sol_header": self.sol_header, "sol_docstring": self.sol_docstring,
            "sol_bodies": list(self.sol_bodies), "module": self.module, "notes": self.notes,
            "weight": self.weight, "timeout_s": self.timeout_s,
            "sat_timeout_s": self.sat_timeout_s, "memory_mb": self.memory_mb,
            "sat_trusted": self.sat_trusted,
        }

    @classmethod
    def from_json(cls, data: JSONValue) -> Puzzle:
        if not isinstance(data, dict):
            raise UsageError(f"Puzzle JSON must be an object, got {type(data).__name__}")
        trusted = data.get("sat_trusted", True)
        if type(trusted) is not bool:
            raise UsageError(f"puzzle {data.get('name')!r}: sat_trusted must be true or false, got {trusted!r}")
        try:
            return cls(
                name=str(data["name"]), sat=str(data["sat"]), ans_type=str(data["ans_type"]),
                sol_header=str(data.get("sol_header") or "def sol():"),
                sol_docstring=str(data.get("sol_docstring") or ""),
                sol_bodies=tuple(str(b) for b in data.get("sol_bodies") or []),  # type: ignore[union-attr]
                module=str(data.get("module") or ""), notes=str(data.get("notes") or ""),
                weight=float(data.get("weight", 1.0)),  # type: ignore[arg-type]
                timeout_s=float(data.get("timeout_s", 10.0)),  # type: ignore[arg-type]
                sat_timeout_s=float(data.get("sat_timeout_s", 10.0)),  # type: ignore[arg-type]
                memory_mb=int(data.get("memory_mb", 1024)),  # type: ignore[arg-type]
                sat_trusted=trusted,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"bad Puzzle JSON: {exc!r}") from None


TypeSpec = type | tuple[object, ...]


def parse_type(spec: str) -> TypeSpec:
    """``"List[List[int]]"`` -> ``("list", ("list", int))``; unknown names raise ValueError.

    The in-sandbox harness checks the answer with its own copy of this rule; the host
    checks again after the JSON round trip (the sandbox side must stay stdlib-only)."""
    spec = spec.replace(" ", "")
    simple: dict[str, type] = {"int": int, "str": str, "float": float, "bool": bool}
    if spec in simple:
        return simple[spec]
    if spec.startswith("List[") and spec.endswith("]"):
        return ("list", parse_type(spec[5:-1]))
    if spec.startswith("Dict[") and spec.endswith("]"):
        inner, depth = spec[5:-1], 0
        for i, ch in enumerate(inner):
            depth += (ch == "[") - (ch == "]")
            if ch == "," and depth == 0:
                return ("dict", parse_type(inner[:i]), parse_type(inner[i + 1 :]))
    raise ValueError(f"unsupported answer type {spec!r}")


def answer_type_ok(*, ans_type: str, answer: object) -> bool:
    """Exact recursive type check of a (JSON-decoded) answer against ``ans_type``:
    ``type(x) is T`` all the way down (``True`` is not an ``int``)."""
    stack: list[tuple[object, TypeSpec]] = [(answer, parse_type(ans_type))]
    while stack:
        val, sp = stack.pop()
        if isinstance(sp, tuple):
            if sp[0] == "list":
                if type(val) is not list:
                    return False
                stack.extend((v, sp[1]) for v in val)  # type: ignore[misc]
            else:
                if type(val) is not dict:
                    return False
                stack.extend((k, sp[1]) for k in val)  # type: ignore[misc]
                stack.extend((v, sp[2]) for v in val.values())  # type: ignore[misc]
        elif type(val) is not sp:
            return False
    return True


ANSWER_MAX_BYTES = 64 << 20  # some P3 answers are megabytes (6,968 Fibonacci numbers)



def candidate_program(puzzle: Puzzle, code: str) -> str:
    """The completion when it defines ``sol``, else a body put under the puzzle's header;
    after ``from typing import *`` as P3 itself runs them."""
    if defines(code, "sol"):
        return TYPING_PRELUDE + code
    return TYPING_PRELUDE + puzzle.sol_header + "\n" + code


@dataclass(slots=True)
class PuzzleVerifier:
    """Verifier for ``Problem[Puzzle]``."""

    sandbox: str | Sandbox = "auto"
    time_factor: float = 4.0
    scale_timeouts: bool = True
    name: str = "puzzle.sat"
    version: str = "1"
    needs_process_isolation: bool = False
    time_limit_s: float = 600.0
    _box: LazySandbox = field(init=False)
    _ref_times: RefTimes = field(default_factory=RefTimes)

    def __post_init__(self) -> None:
        self._box = LazySandbox(self.sandbox)

    def verify(self, problem: Problem[Any], completion: str) -> Verdict:
        puzzle = problem.reference
        if not isinstance(puzzle, Puzzle):
            raise UsageError(f"problem {problem.id!r}: reference is not a Puzzle")
        code = extract_code(completion)
        if code is None:
            return self._verdict(Outcome.NO_ANSWER, None, "no code in the completion")
        outcome, detail, answer = self._judge(puzzle, code, puzzle.timeout_s)
        if outcome is Outcome.TIMEOUT:  # the reference is measured only when it matters
            limit = self._timeout(puzzle)
            if limit > puzzle.timeout_s:
                outcome, detail, answer = self._judge(puzzle, code, limit)
        return self._verdict(outcome, answer if answer is not None else code, detail)

    def close(self) -> None:
        self._box.close()

    def cache_key(self, problem: Problem[Any], completion: str) -> str:
        """The verdict depends on the extracted program only."""
        code = extract_code(completion)
        return "\x00no code" if code is None else code

    def _verdict(self, outcome: Outcome, answer: str | None, detail: str) -> Verdict:
        return Verdict(outcome=outcome, answer=answer, detail=detail, verifier=self.name,
                       verifier_version=self.version)

    def _solve(self, puzzle: Puzzle, code: str, timeout_s: float) -> RunVerdict:
        job = HarnessJob(mode="sol", candidate=candidate_program(puzzle, code), ans_type=puzzle.ans_type)
        limits = Limits(timeout_s=timeout_s, memory_mb=puzzle.memory_mb, max_output_bytes=ANSWER_MAX_BYTES)
        return run_harness(self._box, job, limits)

    def _judge(self, puzzle: Puzzle, code: str, timeout_s: float) -> tuple[Outcome, str, str | None]:
        run = self._solve(puzzle, code, timeout_s)
        if run.outcome is not None or run.report is None:
            return run.outcome or Outcome.ERROR, "sol: " + run.detail, None
        if run.report.passed != 1:
            return Outcome.REJECTED, run.report.why or "sol() failed", None
        text = run.report.payload
        try:
            answer = loads(text)
        except (json.JSONDecodeError, ValueError):
            return Outcome.REJECTED, "the answer is not JSON", None
        if not answer_type_ok(ans_type=puzzle.ans_type, answer=answer):
            return Outcome.REJECTED, f"the answer is not of type {puzzle.ans_type}", text
        if not puzzle.sat_trusted:
            return self._untrusted_sat(puzzle, text)
        sat_job = HarnessJob(mode="sat", sat=puzzle.sat, answer=text)
        sat_run = run_harness(self._box, sat_job, Limits(timeout_s=puzzle.sat_timeout_s,
                                                          memory_mb=puzzle.memory_mb))
        if sat_run.outcome is not None or sat_run.report is None:
            return sat_run.outcome or Outcome.ERROR, "sat: " + sat_run.detail, text
        if sat_run.report.passed != 1:
            return Outcome.REJECTED, sat_run.report.why or "sat(answer) is not True", text
        return Outcome.ACCEPTED, "sat(answer) is True", text

    def _untrusted_sat(self, puzzle: Puzzle, text: str) -> tuple[Outcome, str, str | None]:
        """``sat(answer) is True`` with ``sat`` as the candidate of a fresh run."""
        run = run_probes(self._box, puzzle.sat, ["[" + text + "]"], timeout_s=puzzle.sat_timeout_s,
                         memory_mb=puzzle.memory_mb)
        if run.outcome is not None:
            return run.outcome, "sat (untrusted): " + run.detail, text
        if run.results != (ProbeResult.TRUE,):
            return Outcome.REJECTED, "sat(answer) is not True", text
        return Outcome.ACCEPTED, "sat(answer) is True (sat run as untrusted code)", text

    def _timeout(self, puzzle: Puzzle) -> float:
        """The floor, or ``time_factor`` x the first reference body's sol() time."""
        reference = puzzle.reference()
        if not (self.scale_timeouts and reference):
            return puzzle.timeout_s
        def measure() -> float:
            run = self._solve(puzzle, reference, max(60.0, 4 * puzzle.timeout_s))
            ok = run.outcome is None and run.report is not None and run.report.passed == 1
            return run.wall_s if ok else 0.0

        known = self._ref_times.get(puzzle.name, measure)
        return max(puzzle.timeout_s, self.time_factor * known)

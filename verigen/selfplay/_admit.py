"""Puzzle admission: keep or drop one model-written P3 puzzle, with the reason.

Stages, in order (the first that refuses names the drop):

- ``parse``/``type``: one ``def sat(x: T, ...)``, T an answer type P3 checks exactly;
- ``load``: ``sat`` runs bounded in the sandbox on the probes (a crash, a time-out or a
  run that ends without the harness's report drops it);
- ``trivial``: no probe (small ints, empty and short strings and lists, the source's
  constants, random values of T) makes ``sat`` True;
- ``constant``: implied by ``trivial`` for the probes (all-True is reported as constant);
- ``solve``: at least one solution ACCEPTED by ``PuzzleVerifier`` as P3 puzzles are
  verified (answer from one sandboxed run, exact type after the JSON round trip,
  ``sat(answer) is True`` in a fresh run), with ``sat_trusted=False``: the model-written
  ``sat`` runs as the untrusted candidate in the peer, never on the harness's trusted side
  (it could forge that side's report), and the puzzles written out keep the flag, so the
  ``p3`` task verifies them the same way;
- ``duplicate``: decided over a batch (``verigen.selfplay._dedup``).

An infrastructure fault (sandbox error, harness fault) is status ``error``: neither keep
nor drop, counted apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from verigen.sandbox.base import Sandbox
from verigen.selfplay._parse import ParsedPuzzle, PuzzleSyntaxError, extract_puzzle, parse_puzzle, probes, solution_body
from verigen.types import JSONValue, Outcome, Problem, Verdict
from verigen.verify._code_exec import LazySandbox, extract_code
from verigen.verify._sat_probe import ProbeResult, run_probes
from verigen.verify.pool import VerifyPool, open_pool, verify_all
from verigen.verify.puzzle import Puzzle, PuzzleVerifier

__all__ = ["AdmissionConfig", "PuzzleAdmission", "PuzzleVerdict", "PuzzleVerifierSpec", "Screened", "Status"]

Status = Literal["keep", "drop", "error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionConfig:
    probe_timeout_s: float = 10.0  # one run for all probes
    random_probes: int = 16
    timeout_s: float = 10.0  # sol() and sat(answer), as the p3 task's defaults
    memory_mb: int = 1024
    workers: int = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class PuzzleVerifierSpec:
    """The admission's solution checker as a picklable ``VerifierSource``: a session (local
    or Ray actors) builds its pool from this, in whichever process checks the solutions."""

    sandbox: str = "auto"

    def build(self) -> PuzzleVerifier:
        return PuzzleVerifier(sandbox=self.sandbox)


@dataclass(frozen=True, slots=True, kw_only=True)
class PuzzleVerdict:
    """Keep, drop or error, the stage that decided and why. ``puzzle`` is set once the text
    parsed; ``bodies`` are the verified solutions in P3's ``sol_bodies`` layout."""

    status: Status
    stage: str
    reason: str
    puzzle: Puzzle | None = None
    bodies: tuple[str, ...] = ()
    attempts: int = 0
    accepted: int = 0

    def to_json(self) -> dict[str, JSONValue]:
        return {"status": self.status, "stage": self.stage, "reason": self.reason,
                "name": self.puzzle.name if self.puzzle else None,
                "ans_type": self.puzzle.ans_type if self.puzzle else None,
                "sat": self.puzzle.sat if self.puzzle else None, "sol_bodies": list(self.bodies),
                "attempts": self.attempts, "accepted": self.accepted}


@dataclass(frozen=True, slots=True, kw_only=True)
class Screened:
    """A puzzle after the checks that need no solution: ``verdict`` None means it passed."""

    puzzle: Puzzle | None
    verdict: PuzzleVerdict | None
    probes: int = 0


def _drop(stage: str, reason: str, puzzle: Puzzle | None = None, status: Status = "drop") -> PuzzleVerdict:
    return PuzzleVerdict(status=status, stage=stage, reason=reason, puzzle=puzzle)


@dataclass(slots=True)
class PuzzleAdmission:
    """Screens puzzles and checks solutions in one sandbox (opened on first use)."""

    sandbox: str | Sandbox = "auto"
    config: AdmissionConfig = field(default_factory=AdmissionConfig)
    _box: LazySandbox = field(init=False)
    _verifier: PuzzleVerifier = field(init=False)

    def __post_init__(self) -> None:
        self._box = LazySandbox(self.sandbox)
        self._verifier = PuzzleVerifier(sandbox=self.sandbox)

    def close(self) -> None:
        self._verifier.close()
        self._box.close()

    def puzzle_of(self, name: str, parsed: ParsedPuzzle) -> Puzzle:
        return Puzzle(name=name, sat=parsed.sat, ans_type=parsed.ans_type, module="selfplay",
                      timeout_s=self.config.timeout_s, sat_timeout_s=self.config.timeout_s,
                      memory_mb=self.config.memory_mb, sat_trusted=False)

    def screen(self, name: str, text: str) -> Screened:
        """Static checks, then ``sat`` on the probes in the sandbox."""
        code = extract_puzzle(text)
        if code is None:
            return Screened(puzzle=None, verdict=_drop("parse", "no code"))
        try:
            parsed = parse_puzzle(code)
        except PuzzleSyntaxError as exc:
            return Screened(puzzle=None, verdict=_drop(exc.stage, exc.reason))
        puzzle = self.puzzle_of(name, parsed)
        values = probes(parsed.ans_type, parsed.constants, seed=name, random_count=self.config.random_probes)
        calls = [json.dumps([v]) for v in values]
        run = run_probes(self._box, puzzle.sat, calls, timeout_s=self.config.probe_timeout_s,
                         memory_mb=self.config.memory_mb)
        if run.outcome is Outcome.ERROR:
            return Screened(puzzle=puzzle, verdict=_drop("load", f"infrastructure: {run.detail}", puzzle, "error"))
        if run.outcome is not None:
            what = "timed out" if run.outcome is Outcome.TIMEOUT else "crashed"
            return Screened(puzzle=puzzle, verdict=_drop("load", f"sat {what} on the probes: {run.detail}", puzzle))
        hits = [values[i] for i, r in enumerate(run.results) if r is ProbeResult.TRUE]
        if len(hits) == len(values):
            return Screened(puzzle=puzzle, verdict=_drop("constant", f"sat is True on all {len(values)} probes", puzzle))
        if hits:
            return Screened(puzzle=puzzle, verdict=_drop("trivial", f"sat({_show(hits[0])}) is True "
                                                         f"({len(hits)} of {len(values)} probes)", puzzle))
        return Screened(puzzle=puzzle, verdict=None, probes=len(values))

    def judge(self, puzzles: Sequence[Puzzle], solutions: Sequence[Sequence[str]],
              pool: VerifyPool | None = None) -> list[PuzzleVerdict]:
        """Each screened puzzle with its candidate solutions (model completions or code):
        keep when one is verified, drop when none is, error when none is and any check
        failed for infrastructure reasons. ``pool``: an open pool of a ``PuzzleVerifier``
        to check them in (left open; e.g. a session's, on Ray actors), else one of this
        admission's own for this call."""
        jobs: list[tuple[int, str, Problem[Any], str]] = []
        for k, (puzzle, texts) in enumerate(zip(puzzles, solutions, strict=True)):
            problem: Problem[Any] = Problem(id=f"selfplay/{puzzle.name}", task="selfplay", prompt="", reference=puzzle)
            for text in texts:
                code = extract_code(text)
                body = solution_body(code) if code is not None else None
                if body is None:  # still verified as written, so its verdict is the real one
                    jobs.append((k, "", problem, text))
                else:
                    jobs.append((k, body, problem, "```python\n" + _program(puzzle, body) + "```"))
        checks = ((p, t) for _, _, p, t in jobs)
        if pool is not None:
            verdicts = list(verify_all(pool, checks))
        else:
            own = open_pool(self._verifier, workers=self.config.workers)
            try:
                verdicts = list(verify_all(own, checks))
            finally:
                own.close()
        return [self._decide(k, puzzle, jobs, verdicts) for k, puzzle in enumerate(puzzles)]

    def _decide(self, k: int, puzzle: Puzzle, jobs: list[tuple[int, str, Problem[Any], str]],
                verdicts: list[Verdict]) -> PuzzleVerdict:
        mine = [(body, v) for (j, body, _, _), v in zip(jobs, verdicts, strict=True) if j == k]
        if not mine:
            return _drop("solve", "no solution attempts", puzzle)
        accepted = [(body, v) for body, v in mine if v.outcome is Outcome.ACCEPTED]
        errors = [v for _, v in mine if v.outcome is Outcome.ERROR]
        bodies: list[str] = []
        for body, _ in accepted:
            if body and body not in bodies:
                bodies.append(body)
        if bodies:
            return PuzzleVerdict(status="keep", stage="solve", reason=f"{len(bodies)} verified solution(s)",
                                 puzzle=puzzle, bodies=tuple(bodies), attempts=len(mine), accepted=len(accepted))
        if errors:
            return PuzzleVerdict(status="error", stage="solve", reason=f"infrastructure: {errors[0].detail}",
                                 puzzle=puzzle, attempts=len(mine), accepted=len(accepted))
        if accepted:
            why = "accepted solutions cannot be stored as sol_bodies (import * or __future__)"
        else:
            why = f"no attempt verified ({_tally(v for _, v in mine)})"
        return PuzzleVerdict(status="drop", stage="solve", reason=why, puzzle=puzzle, attempts=len(mine), accepted=len(accepted))


def _program(puzzle: Puzzle, body: str) -> str:
    parts = [puzzle.sol_header, puzzle.sol_docstring, body]
    return "\n".join(p for p in parts if p)


def _tally(verdicts: Any) -> str:
    from collections import Counter

    counts = Counter(v.outcome.value for v in verdicts)
    return ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))


def _show(value: JSONValue) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

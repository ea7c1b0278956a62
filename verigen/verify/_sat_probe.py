"""Run an untrusted (model-written) ``sat`` on chosen inputs, in the sandbox.

A model-written ``sat`` is untrusted code, so it runs as the *candidate* of a harness
``calls`` job (in the peer process, inside the sandbox), never on the harness's trusted
side and never in this process. A small wrapper, defined next to ``sat``, turns each call
into plain data (``["true"]``, ``["value", type]`` or ``["raised", exception]``) so one
exception does not end the run. The wrapper shares the peer with ``sat``; ``sat`` could
tamper with it, which only changes its own answers (the final ``sat(answer) is True``
check of a solution is a separate, fresh run). Used by self-play admission (probes) and by
``PuzzleVerifier`` for puzzles whose ``sat`` is not trusted (``Puzzle.sat_trusted``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from verigen.sandbox.types import Limits
from verigen.types import Outcome
from verigen.verify._code_exec import HarnessJob, LazySandbox, run_harness

__all__ = ["TYPING_PRELUDE", "ProbeResult", "ProbeRun", "run_probes"]

# P3 headers and bodies use typing names (``List[int]``) without importing them.
TYPING_PRELUDE = "from typing import *  # noqa: F403\n"

_ENTRY = "verigen_probe_sat"
_WRAPPER = f'''

def {_ENTRY}(x):
    try:
        r = sat(x)
    except BaseException as e:
        return ["raised", type(e).__name__]
    return ["true"] if r is True else ["value", type(r).__name__]
'''


class ProbeResult(Enum):
    TRUE = "true"  # sat(x) is True
    NOT_TRUE = "not-true"  # returned something else (False, None, ...) or raised


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeRun:
    """One run over all inputs: ``outcome`` None when every call came back, else why not."""

    outcome: Outcome | None
    detail: str
    results: tuple[ProbeResult, ...] = ()


def run_probes(box: LazySandbox, sat: str, calls: list[str], *, timeout_s: float,
               memory_mb: int = 1024) -> ProbeRun:
    """``sat`` on each input in one sandboxed run; ``calls`` are JSON argument lists
    (``"[value]"``, as text: a huge answer never goes through this process's int parser).

    ``outcome`` ERROR only on the harness's or sandbox's own evidence (an infrastructure
    fault); TIMEOUT and REJECTED (crash, no report, bad replies) count against the puzzle.
    """
    job = HarnessJob(mode="calls", candidate=TYPING_PRELUDE + sat + _WRAPPER, entry_point=_ENTRY,
                     calls=tuple(calls))
    run = run_harness(box, job, Limits(timeout_s=timeout_s, memory_mb=memory_mb))
    if run.outcome is not None or run.report is None:
        return ProbeRun(outcome=run.outcome or Outcome.ERROR, detail=run.detail)
    report = run.report
    if report.passed != len(calls):
        return ProbeRun(outcome=Outcome.REJECTED, detail=report.why or "sat did not answer every probe")
    try:
        replies = json.loads(report.payload)
    except (json.JSONDecodeError, ValueError):
        return ProbeRun(outcome=Outcome.REJECTED, detail="probe replies are not JSON")
    if not isinstance(replies, list) or len(replies) != len(calls):
        return ProbeRun(outcome=Outcome.REJECTED, detail="probe replies do not match the probes")
    results = tuple(ProbeResult.TRUE if r == ["true"] else ProbeResult.NOT_TRUE for r in replies)
    return ProbeRun(outcome=None, detail="", results=results)

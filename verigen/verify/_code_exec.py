"""Host side of code execution: the lazily opened sandbox, harness requests and reports.

The harness is a trusted program shipped with the sandbox (sandboxes/python/harness.py,
registered with every runner as ``harness``). This module builds its ``ExecRequest``: the
harness as the main program with the job on stdin, and the harness again as the request's
peer, where the candidate runs (see that file for the design). It reads back the one
report line, which only the trusted side can write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import ExecPeer, ExecRequest, ExecResult, ExecStatus, Limits
from verigen.types import JSONValue, Outcome

log = logging.getLogger(__name__)

Mode = Literal["tests", "calls", "sol", "sat"]
HARNESS = "harness"  # the shipped program's name (verigen.sandbox._files.SHIPPED_PROGRAMS)
_PEER = ExecPeer(program=HARNESS, argv=("peer",))
# The trusted side runs in the runner's resident harness (one per runner, kept between
# requests) unless VERIGEN_RESIDENT_HARNESS=0: then a fresh process per request, as the
# candidate's side always is (for comparison runs and as a fallback).
_RESIDENT = os.environ.get("VERIGEN_RESIDENT_HARNESS", "1") != "0"
# Fences open and close at the start of a line: "```" inside a string literal is not one.
_FENCE = re.compile(r"^[ \t]*```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_PY_LABELS = {"python", "py", "python3", "py3"}


def extract_code(text: str) -> str | None:
    """The code in a model completion: the last ```python block, else the last fenced
    block, else the raw text; None when nothing but whitespace is left."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    python = [body for label, body in blocks if label in _PY_LABELS]
    if python:
        code = python[-1]
    elif blocks:
        code = blocks[-1][1]
    else:
        code = text
    return code if code.strip() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class HarnessJob:
    """What one harness run does (see sandboxes/python/harness.py for the modes)."""

    mode: Mode
    candidate: str = ""
    prelude: str = ""
    setup: str = ""
    tests: tuple[str, ...] = ()
    entry_point: str = ""
    calls: tuple[str, ...] = ()  # JSON argument lists
    ans_type: str = ""
    sat: str = ""
    answer: str = ""  # JSON text

    @property
    def expected_count(self) -> int:
        if self.mode == "tests":
            return len(self.tests)
        if self.mode == "calls":
            return len(self.calls)
        return 1

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "mode": self.mode, "candidate": self.candidate, "prelude": self.prelude,
            "setup": self.setup, "tests": list(self.tests), "entry_point": self.entry_point,
            "calls": list(self.calls), "ans_type": self.ans_type, "sat": self.sat,
            "answer": self.answer,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HarnessReport:
    """The trusted side's verdict on one run: its report line, decoded."""

    passed: int
    total: int
    why: str
    payload: str  # JSON text
    fault: str | None  # set only when the harness failed before the candidate got any code


@dataclass(frozen=True, slots=True, kw_only=True)
class RunVerdict:
    """A run judged: ``outcome`` None means the harness reported and ``report`` is set."""

    outcome: Outcome | None
    detail: str = ""
    report: HarnessReport | None = None
    wall_s: float = 0.0


def harness_request(job: HarnessJob, limits: Limits) -> ExecRequest:
    """The harness as main program, the job on its stdin; the candidate's process as its
    peer (``sat`` runs trusted code only and needs none)."""
    body = json.dumps(job.to_json()).encode("utf-8")
    peer = None if job.mode == "sat" else _PEER
    return ExecRequest(program=HARNESS, argv=("main",), stdin=body, limits=limits, peer=peer,
                       resident=peer is not None and _RESIDENT)


def parse_report(stdout: str) -> HarnessReport | None:
    """The report, when stdout is exactly one well-formed report line; else None. Only
    the trusted side holds the program's stdout, so its shape is all that is checked."""
    line = stdout[:-1] if stdout.endswith("\n") else stdout
    if not line or "\n" in line:
        return None
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.get("v") != 1:
        return None
    passed, total, why, fault = obj.get("passed"), obj.get("total"), obj.get("why"), obj.get("fault")
    if type(passed) is not int or type(total) is not int or not isinstance(why, str):
        return None
    if fault is not None and not isinstance(fault, str):
        return None
    payload = json.dumps(obj.get("payload"), allow_nan=True)
    return HarnessReport(passed=passed, total=total, why=why, payload=payload, fault=fault)


def status_outcome(result: ExecResult, *, exit_code_matters: bool = True) -> tuple[Outcome, str] | None:
    """Outcome for a run that did not exit normally (with code 0, where that matters);
    None when it did."""
    if result.status is ExecStatus.SANDBOX_ERROR:
        return Outcome.ERROR, f"sandbox error: {result.detail}"
    if result.status is ExecStatus.TIMEOUT:
        return Outcome.TIMEOUT, f"time limit ({result.detail})"
    if result.status is not ExecStatus.EXITED:
        return Outcome.REJECTED, f"{result.status.value}: {result.detail}"
    if exit_code_matters and result.exit_code != 0:
        tail = result.stderr.strip().splitlines()[-1:] or [""]
        return Outcome.REJECTED, f"exit code {result.exit_code}: {tail[0][:200]}"
    return None


@dataclass(slots=True)
class RefTimes:
    """Run time of each problem's reference, measured once per key (thread-safe).

    Two threads may measure the same key at once; both get a valid figure and the first
    stored one is kept, so no lock is held while a reference runs.
    """

    _times: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str, measure: Callable[[], float]) -> float:
        with self._lock:
            known = self._times.get(key)
        if known is None:
            known = measure()
            with self._lock:
                known = self._times.setdefault(key, known)
        return known


@dataclass(slots=True)
class LazySandbox:
    """A sandbox opened on first use (thread-safe), from a backend name or an instance.

    SANDBOX_ERROR results are retried once; what still fails stays SANDBOX_ERROR.
    """

    backend: str | Sandbox
    workers: int | None = None
    _sandbox: Sandbox | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                if isinstance(self.backend, str):
                    from verigen.sandbox.select import open_sandbox

                    self._sandbox = open_sandbox(backend=self.backend, workers=self.workers)
                else:
                    self._sandbox = self.backend
            return self._sandbox

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        sandbox = self.get()
        results = list(sandbox.run_many(list(requests)) if len(requests) > 1 else [sandbox.run(requests[0])])
        for i, res in enumerate(results):
            if res.status is ExecStatus.SANDBOX_ERROR:
                log.warning("sandbox error (%s), retrying once", res.detail)
                results[i] = sandbox.run(requests[i])
        return results

    def run(self, request: ExecRequest) -> ExecResult:
        return self.run_many([request])[0]

    def close(self) -> None:
        with self._lock:
            if self._sandbox is not None and isinstance(self.backend, str):
                self._sandbox.close()
            self._sandbox = None


def run_harness(sandbox: LazySandbox, job: HarnessJob, limits: Limits) -> RunVerdict:
    """Run ``job`` once; an outcome for abnormal runs, else the harness's report.

    ERROR only on evidence the candidate cannot produce: a SANDBOX_ERROR from the sandbox,
    or a ``fault`` in the trusted side's report (written before the candidate had code).
    A run that ends without a report (the candidate killed the trusted side, or exhausted
    what it shares with it) counts against the candidate, whatever the exit code.
    """
    result = sandbox.run(harness_request(job, limits))
    bad = status_outcome(result, exit_code_matters=False)
    if bad is not None:
        return RunVerdict(outcome=bad[0], detail=bad[1], wall_s=result.wall_s)
    report = parse_report(result.stdout)
    if report is None:
        tail = (result.stderr.strip().splitlines() or [""])[-1][:200]
        detail = f"no harness report (the run ended early, exit code {result.exit_code}; {tail})"
        return RunVerdict(outcome=Outcome.REJECTED, detail=detail, wall_s=result.wall_s)
    if report.fault is not None:
        return RunVerdict(outcome=Outcome.ERROR, detail=f"harness fault: {report.fault}", wall_s=result.wall_s)
    if report.total != job.expected_count:
        return RunVerdict(outcome=Outcome.ERROR, wall_s=result.wall_s,
                          detail=f"harness counted {report.total} tests, expected {job.expected_count}")
    return RunVerdict(outcome=None, report=report, wall_s=result.wall_s)

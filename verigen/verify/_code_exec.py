"""Host side of code execution: the lazily opened sandbox, harness requests and reports.

The harness program itself is ``verigen/verify/_harness.py``; this module builds its
``ExecRequest`` (program, ``job.json``, nonce on stdin) and reads back its one result line.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus, Limits
from verigen.types import JSONValue, Outcome

log = logging.getLogger(__name__)

Mode = Literal["tests", "calls", "sol", "sat"]
RESULT_PREFIX = "@@verigen:"
HARNESS_FAULT = 97  # the harness's exit code when it failed before any candidate code ran
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
    """What one harness run does (see ``_harness.py`` for the modes)."""

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
    """The harness's verdict on one run, read from its nonce line."""

    passed: int
    why: str
    payload: str  # JSON text, verbatim


@dataclass(frozen=True, slots=True, kw_only=True)
class RunVerdict:
    """A run judged: ``outcome`` None means the harness reported and ``report`` is set."""

    outcome: Outcome | None
    detail: str = ""
    report: HarnessReport | None = None
    wall_s: float = 0.0


@functools.cache
def harness_source() -> str:
    """The harness program's text (read once per process)."""
    return resources.files("verigen.verify").joinpath("_harness.py").read_text(encoding="utf-8")


def harness_request(job: HarnessJob, nonce: str, limits: Limits) -> ExecRequest:
    body = json.dumps(job.to_json()).encode("utf-8")
    return ExecRequest(
        code=harness_source(),
        stdin=(nonce + "\n").encode("ascii"),
        files={"job.json": body},
        limits=limits,
    )


def parse_report(stdout: str, nonce: str) -> HarnessReport | None:
    """The report on the line carrying ``nonce``; None unless exactly one such line."""
    head = f"{RESULT_PREFIX}{nonce}:"
    lines = [ln for ln in stdout.split("\n") if ln.startswith(head)]
    if len(lines) != 1:
        return None
    count, sep1, rest = lines[0][len(head) :].partition("\t")
    why_text, sep2, payload = rest.partition("\t")
    if not (sep1 and sep2 and count.isdigit()):
        return None
    try:
        why = json.loads(why_text)
    except json.JSONDecodeError:
        return None
    return HarnessReport(passed=int(count), why=str(why), payload=payload)


def status_outcome(result: ExecResult) -> tuple[Outcome, str] | None:
    """Outcome for a run that did not exit normally with code 0; None when it did."""
    if result.status is ExecStatus.SANDBOX_ERROR:
        return Outcome.ERROR, f"sandbox error: {result.detail}"
    if result.status is ExecStatus.TIMEOUT:
        return Outcome.TIMEOUT, f"time limit ({result.detail})"
    if result.status is not ExecStatus.EXITED:
        return Outcome.REJECTED, f"{result.status.value}: {result.detail}"
    if result.exit_code != 0:
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
    """Run ``job`` once; an outcome for abnormal runs, else the harness's report."""
    nonce = secrets.token_hex(16)
    result = sandbox.run(harness_request(job, nonce, limits))
    if result.status is ExecStatus.EXITED and result.exit_code == HARNESS_FAULT:
        return RunVerdict(outcome=Outcome.ERROR, detail="the harness failed before the candidate ran")
    bad = status_outcome(result)
    if bad is not None:
        return RunVerdict(outcome=bad[0], detail=bad[1], wall_s=result.wall_s)
    report = parse_report(result.stdout, nonce)
    if report is None:
        tail = (result.stderr.strip().splitlines() or [""])[-1][:200]
        detail = f"no harness report (exited early; {len(result.stdout)} bytes out; {tail})"
        return RunVerdict(outcome=Outcome.REJECTED, detail=detail, wall_s=result.wall_s)
    return RunVerdict(outcome=None, report=report, wall_s=result.wall_s)

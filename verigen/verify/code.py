"""Code verifiers: function tests (HumanEval, MBPP), stdin/stdout and call-based tests (APPS).

Every candidate runs inside a sandbox (``verigen.sandbox``) opened lazily from a backend
name. Function tests and call-based tests run through the two-process harness
(sandboxes/python/harness.py): the tests run in a trusted process that never executes
candidate code, the candidate in a peer process called over a pipe with plain data, and a
pass needs the trusted side's report that every test ran and passed. Stdin/stdout programs
run once per test case as a plain ``__main__`` script;
the host compares each case's stdout with the expected output (whitespace-tolerant,
floats within 1e-6), so a program passes only by printing the right answers.

Outcomes: sandbox TIMEOUT -> TIMEOUT; memory / output limit / non-zero exit / failed test
-> REJECTED; no code -> NO_ANSWER; SANDBOX_ERROR (after one retry) -> ERROR.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from verigen.errors import UsageError
from verigen.sandbox.base import Sandbox
from verigen.sandbox.types import ExecRequest, ExecResult, Limits
from verigen.types import JSONValue, Outcome, Problem, Verdict
from verigen.verify._code_compare import loads, stdout_match, value_match
from verigen.verify._code_exec import (
    HarnessJob,
    LazySandbox,
    RefTimes,
    RunVerdict,
    extract_code,
    run_harness,
    status_outcome,
)

__all__ = ["CodeVerifier", "IOCase", "TestSuite", "extract_code"]

SuiteKind = Literal["function", "stdio", "call"]
_KINDS = ("function", "stdio", "call")


@dataclass(frozen=True, slots=True, kw_only=True)
class IOCase:
    """One case. ``stdio``: raw stdin and expected stdout. ``call``: a JSON list of
    arguments and the JSON expected result."""

    input: str
    output: str

    def to_json(self) -> dict[str, JSONValue]:
        return {"input": self.input, "output": self.output}


@dataclass(frozen=True, slots=True, kw_only=True)
class TestSuite:
    """The reference of a code problem: how to assemble and test a candidate program.

    ``prefix`` is code the completion continues (HumanEval prompt, APPS starter code); it
    is also run as trusted code in the test namespace, so helpers it defines cannot be
    replaced by the candidate. ``setup`` is trusted test code run before the ``tests``
    (each an assert-style snippet counted as one test). ``timeout_s`` is the floor of the
    per-program time limit; with a ``reference`` completion, a candidate that times out at
    the floor runs again under ``max(timeout_s, 4 * reference run time)``, the reference
    measured once per problem, when the first candidate needs it.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class

    kind: SuiteKind
    entry_point: str = ""
    prefix: str = ""
    setup: str = ""
    tests: tuple[str, ...] = ()
    cases: tuple[IOCase, ...] = ()
    timeout_s: float = 3.0
    memory_mb: int = 1024
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise UsageError(f"TestSuite kind {self.kind!r} is not one of {', '.join(_KINDS)}")
        if self.kind == "function" and not self.tests:
            raise UsageError("a 'function' TestSuite needs at least one test")
        if self.kind != "function" and not self.cases:
            raise UsageError(f"a {self.kind!r} TestSuite needs at least one case")
        if self.kind == "call" and not self.entry_point:
            raise UsageError("a 'call' TestSuite needs an entry_point (the function name)")

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "kind": self.kind, "entry_point": self.entry_point, "prefix": self.prefix,
            "setup": self.setup, "tests": list(self.tests),
            "cases": [c.to_json() for c in self.cases], "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb, "reference": self.reference,
        }

    @classmethod
    def from_json(cls, data: JSONValue) -> TestSuite:
        if not isinstance(data, dict):
            raise UsageError(f"TestSuite JSON must be an object, got {type(data).__name__}")
        try:
            raw_cases = data.get("cases") or []
            if not isinstance(raw_cases, list):
                raise UsageError(f"TestSuite 'cases' must be a JSON list, got {type(raw_cases).__name__}")
            cases = tuple(_io_case(c) for c in raw_cases)
            ref = data.get("reference")
            return cls(
                kind=data["kind"],  # type: ignore[arg-type]
                entry_point=str(data.get("entry_point") or ""),
                prefix=str(data.get("prefix") or ""),
                setup=str(data.get("setup") or ""),
                tests=tuple(str(t) for t in data.get("tests") or []),  # type: ignore[union-attr]
                cases=cases,
                timeout_s=float(data.get("timeout_s", 3.0)),  # type: ignore[arg-type]
                memory_mb=int(data.get("memory_mb", 1024)),  # type: ignore[arg-type]
                reference=None if ref is None else str(ref),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"bad TestSuite JSON: {exc!r}") from None


def _io_case(data: JSONValue) -> IOCase:
    if not isinstance(data, dict):
        raise UsageError(f"a TestSuite case must be a JSON object, got {type(data).__name__}")
    return IOCase(input=str(data["input"]), output=str(data["output"]))


def defines(code: str, name: str) -> bool:
    """Whether ``code`` defines ``name`` at top level (function or class)."""
    if not name:
        return False
    pattern = rf"^(?:async\s+def|def|class)\s+{re.escape(name)}\b"
    return re.search(pattern, code, re.MULTILINE) is not None


def assemble(suite: TestSuite, code: str) -> str:
    """The candidate program: the completion alone when it (re)defines the entry point,
    else ``prefix`` + completion. When the completion redefines it, the prefix still comes
    first (its imports and helpers stay available; the later definition wins)."""
    if not suite.prefix:
        return code
    sep = "" if suite.prefix.endswith("\n") else "\n"
    if defines(code, suite.entry_point) or (suite.kind == "call" and defines(code, "Solution")):
        return suite.prefix + sep + "\n" + code if _compiles(suite.prefix) else code
    return suite.prefix + sep + code if code.startswith((" ", "\t")) else suite.prefix + code


def _compiles(source: str) -> bool:
    """Whether ``source`` is complete Python (an APPS starter like ``def f(x):`` is not)."""
    try:
        compile(source, "<prefix>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


@dataclass(slots=True)
class CodeVerifier:
    """Verifier for ``Problem[TestSuite]`` (function, stdio and call-based tests)."""

    sandbox: str | Sandbox = "auto"
    time_factor: float = 4.0
    scale_timeouts: bool = True
    chunk: int = 8  # stdio cases per sandbox batch; later batches are skipped after a failure
    name: str = "code.tests"
    version: str = "1"
    needs_process_isolation: bool = False
    time_limit_s: float = 600.0
    _box: LazySandbox = field(init=False)
    _ref_times: RefTimes = field(default_factory=RefTimes)

    def __post_init__(self) -> None:
        self._box = LazySandbox(self.sandbox)

    def verify(self, problem: Problem[Any], completion: str) -> Verdict:
        suite = problem.reference
        if not isinstance(suite, TestSuite):
            raise UsageError(f"problem {problem.id!r}: reference is not a TestSuite")
        code = extract_code(completion)
        if code is None:
            return self._verdict(Outcome.NO_ANSWER, None, "no code in the completion")
        outcome, detail = self._judge(suite, code, suite.timeout_s)
        if outcome is Outcome.TIMEOUT:
            # Only now is the reference's run time worth measuring (once per problem): a
            # slow problem gets time_factor x that, and the candidate a second run.
            limit = self._timeout(problem.id, suite)
            if limit > suite.timeout_s:
                outcome, detail = self._judge(suite, code, limit)
        return self._verdict(outcome, code, detail)

    def close(self) -> None:
        self._box.close()

    def cache_key(self, problem: Problem[Any], completion: str) -> str:
        """The verdict depends on the extracted program only."""
        code = extract_code(completion)
        return "\x00no code" if code is None else code

    def _verdict(self, outcome: Outcome, code: str | None, detail: str) -> Verdict:
        return Verdict(outcome=outcome, answer=code, detail=detail, verifier=self.name,
                       verifier_version=self.version)

    def _judge(self, suite: TestSuite, code: str, timeout_s: float) -> tuple[Outcome, str]:
        limits = Limits(timeout_s=timeout_s, memory_mb=suite.memory_mb)
        program = assemble(suite, code)
        if suite.kind == "stdio":
            return self._judge_stdio(suite, program, limits)
        job = _job(suite, program)
        return _harness_outcome(suite, job, run_harness(self._box, job, limits))

    def _judge_stdio(self, suite: TestSuite, program: str, limits: Limits) -> tuple[Outcome, str]:
        cases = suite.cases
        for start in range(0, len(cases), self.chunk):
            batch = cases[start : start + self.chunk]
            requests = [ExecRequest(code=program, stdin=c.input.encode("utf-8"), limits=limits)
                        for c in batch]
            results = self._box.run_many(requests)
            for i, (case, res) in enumerate(zip(batch, results), start):
                bad = _stdio_case(case, res)
                if bad is not None:
                    return bad[0], f"case {i}: {bad[1]}"
        return Outcome.ACCEPTED, f"all {len(cases)} cases passed"

    def _timeout(self, key: str, suite: TestSuite) -> float:
        """The floor, or ``time_factor`` x the reference's run time (measured once)."""
        if not (self.scale_timeouts and suite.reference and suite.kind != "stdio"):
            return suite.timeout_s
        reference = suite.reference
        known = self._ref_times.get(key, lambda: self._reference_wall(suite, reference))
        return max(suite.timeout_s, self.time_factor * known)

    def _reference_wall(self, suite: TestSuite, reference: str) -> float:
        """Wall time of the reference under a generous limit; 0 (the floor applies) when it
        does not pass, so a broken reference never stretches the limit."""
        limits = Limits(timeout_s=max(30.0, 4 * suite.timeout_s), memory_mb=suite.memory_mb)
        job = _job(suite, assemble(suite, extract_code(reference) or ""))
        run = run_harness(self._box, job, limits)
        outcome, _ = _harness_outcome(suite, job, run)
        return run.wall_s if outcome is Outcome.ACCEPTED else 0.0


def _job(suite: TestSuite, program: str) -> HarnessJob:
    if suite.kind == "call":
        return HarnessJob(mode="calls", candidate=program, entry_point=suite.entry_point,
                          calls=tuple(c.input for c in suite.cases))
    return HarnessJob(mode="tests", candidate=program, prelude=suite.prefix,
                      setup=suite.setup, tests=suite.tests, entry_point=suite.entry_point)


def _harness_outcome(suite: TestSuite, job: HarnessJob, run: RunVerdict) -> tuple[Outcome, str]:
    if run.outcome is not None or run.report is None:
        return run.outcome or Outcome.ERROR, run.detail
    report = run.report
    if report.passed != job.expected_count:
        return Outcome.REJECTED, f"{report.passed}/{job.expected_count} passed: {report.why}"
    if suite.kind == "function":
        return Outcome.ACCEPTED, f"all {report.passed} tests passed"
    try:
        results = loads(report.payload)
    except (json.JSONDecodeError, ValueError):
        return Outcome.REJECTED, "unreadable results"
    if not isinstance(results, list) or len(results) != len(suite.cases):
        return Outcome.REJECTED, "wrong number of results"
    for i, (case, pred) in enumerate(zip(suite.cases, results)):
        if not value_match(gold=loads(case.output), pred=pred):
            return Outcome.REJECTED, f"case {i}: wrong result"
    return Outcome.ACCEPTED, f"all {len(results)} cases passed"


def _stdio_case(case: IOCase, res: ExecResult) -> tuple[Outcome, str] | None:
    bad = status_outcome(res)
    if bad is not None:
        return bad
    if not stdout_match(gold=case.output, pred=res.stdout):
        return Outcome.REJECTED, "wrong output"
    return None

"""The host-side parts of the code and puzzle verifiers, without a real sandbox."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Sequence
from types import TracebackType

import pytest
from verigen._sandbox import harness  # the in-sandbox program, imported here as a module

from verigen.errors import UsageError
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus
from verigen.types import Outcome, Problem
from verigen.verify._code_compare import loads, stdout_match, value_match
from verigen.verify._code_exec import HarnessJob, harness_request, parse_report
from verigen.verify.code import CodeVerifier, IOCase, TestSuite, assemble, extract_code
from verigen.verify.puzzle import Puzzle, PuzzleVerifier, answer_type_ok


@pytest.mark.parametrize(("text", "expected"), [
    ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n"),
    ("x\n```python\na = 1\n```\ntext\n```python\nb = 2\n```\n", "b = 2\n"),
    ("```\nc = 3\n```", "c = 3\n"),
    ("```py\nd = 4\n```\n```text\nnot code\n```", "d = 4\n"),
    ("    return a + b\n", "    return a + b\n"),
    ("```python\ne = 5\n", "e = 5\n"),  # unterminated fence (truncated generation)
    ("", None),
    ("   \n\t", None),
    ("```python\n\n```", None),
])
def test_extract_code(text: str, expected: str | None) -> None:
    assert extract_code(text) == expected


_SUITE = TestSuite(kind="function", entry_point="f", prefix='def f(x):\n    """Doc."""\n',
                   tests=("assert f(1) == 2",))


@pytest.mark.parametrize(("code", "expected"), [
    ("    return x + 1\n", 'def f(x):\n    """Doc."""\n    return x + 1\n'),
    ("def f(x):\n    return x + 1\n", 'def f(x):\n    """Doc."""\n\ndef f(x):\n    return x + 1\n'),
    ("import math\n\ndef f(x):\n    return x + 1\n",
     'def f(x):\n    """Doc."""\n\nimport math\n\ndef f(x):\n    return x + 1\n'),
])
def test_assemble_prefix_and_completion(code: str, expected: str) -> None:
    assert assemble(_SUITE, code) == expected


def test_assemble_drops_an_incomplete_starter_when_the_function_is_redefined() -> None:
    suite = TestSuite(kind="call", entry_point="g", prefix="\ndef g(a):\n\t",
                      cases=(IOCase(input="[1]", output="[1]"),))
    assert assemble(suite, "def g(a):\n    return a\n") == "def g(a):\n    return a\n"


@pytest.mark.parametrize(("gold", "pred", "ok"), [
    ("3\n", "3", True),
    ("1 2\n3\n", " 1 2 3 \n\n", True),
    ("0.3333333", "0.33333334", True),
    ("1.5", "1.6", False),
    ("1000000", "1000001", False),  # integers compare exactly
    ("1000000", "1000000.0", False),
    ("Yes", "yes", False),
    ("1 2", "1 2 3", False),
    ("", "", True),
    ("nan", "nan", True),
    ("inf", "1e308", False),
])
def test_stdout_match(gold: str, pred: str, ok: bool) -> None:
    assert stdout_match(gold=gold, pred=pred) is ok


@pytest.mark.parametrize(("gold", "pred", "ok"), [
    ([3], 3, True),
    ([3], [3], True),
    ([[1, 2]], [1, 2], True),
    ([1, 2], [1, 2], True),
    ([True], 1, False),  # bool is not int
    ([1], True, False),
    ([7], 7.0, False),  # an int expected value needs an int answer
    ([7], 7.0000001, False),
    ([12345], 12345.4, False),
    ([7.0], 7, True),  # a float expected value keeps its tolerance
    ([[1, 2]], [1.0, 2], False),
    ([0.1 + 0.2], 0.3, True),
    ([10**30], 10**30 + 1, False),
    ({"a": [1]}, {"a": [1]}, True),
    (["x"], "y", False),
    ([0.5], 10**400, False),  # beyond any float: not close (math.isclose would overflow)
    ([float("inf")], -(10**400), False),
    ([[0.5, 1.5]], [0.5, 10**400], False),
])
def test_value_match(gold: object, pred: object, ok: bool) -> None:
    assert value_match(gold=gold, pred=pred) is ok  # type: ignore[arg-type]


def test_loads_reads_huge_integers() -> None:
    value = loads("[1, -" + "9" * 9000 + "]")
    assert value == [1, -(10**9000 - 1)]


@pytest.mark.parametrize(("spec", "value", "ok"), [
    ("int", 3, True),
    ("int", True, False),
    ("int", 3.0, False),
    ("bool", True, True),
    ("bool", 1, False),
    ("float", 1.0, True),
    ("float", 1, False),
    ("str", "a", True),
    ("List[int]", [1, 2], True),
    ("List[int]", [1, True], False),
    ("List[int]", (1, 2), False),
    ("List[List[bool]]", [[True], []], True),
    ("List[List[bool]]", [[1]], False),
    ("Dict[str, int]", {"a": 1}, True),
    ("Dict[str, int]", {1: 1}, False),
    ("List[List[List[int]]]", [[[1]]], True),
    ("List[float]", [1.0, 2], False),
])
def test_exact_answer_types(spec: str, value: object, ok: bool) -> None:
    assert harness.type_ok(value, harness.parse_type(spec)) is ok  # the in-sandbox check
    assert answer_type_ok(ans_type=spec, answer=value) is ok  # the host's, after JSON


def test_unknown_answer_type_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Set\\[int\\]"):
        Puzzle(name="x", sat="def sat(x): return True", ans_type="Set[int]")


class _AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True


class _IntSub(int):
    pass


class _ListSub(list):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize("value", [
    [1, "a", (2.0, None), {"k": {1, 2}}, frozenset({3})],
    {1: "x", (1, 2): [b"\x00", bytearray(b"ab")]},
    [10**40, -(10**5000), 2**62, -(2**62), float("inf"), -0.0, 1e-300, complex(1, -2)],
    collections.OrderedDict([("b", 1), ("a", 2)]),
    collections.defaultdict(list, {"a": [1]}),
    collections.Counter("hello"),
    collections.deque([1, 2]),
    [int, str, dict, type(None)],  # builtin type objects are data (MBPP passes ``int``)
    "\ud800 lone surrogate",
])
def test_plain_values_round_trip_exactly(value: object) -> None:
    wire = json.loads(json.dumps(harness.encode(value)))
    back = harness.decode(wire)
    assert back == value and type(back) is type(value)
    if isinstance(value, collections.defaultdict):
        assert back.default_factory is value.default_factory  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [
    _AlwaysEqual(), [1, [_AlwaysEqual()]], {"k": _AlwaysEqual()}, _IntSub(1), _ListSub([1]),
    _AlwaysEqual, collections.defaultdict(lambda: 0), (x for x in [1]), range(3),
])
def test_non_plain_values_are_refused(value: object) -> None:
    with pytest.raises(harness.Unencodable):
        harness.encode(value)


@pytest.mark.parametrize("wire", [
    {"$": "nope", "v": 1}, {"$": "int", "v": 5}, {"$": "type", "v": "os"}, {"x": 1},
    {"$": "dict", "v": [[1]]}, {"$": "tuple", "v": 3}, {"$": "h", "v": 0},
    {"$": "bytes", "v": "***"},
])
def test_malformed_wire_values_are_refused(wire: object) -> None:
    with pytest.raises(ValueError):
        harness.decode(wire)


def _line(passed: int, total: int = 1, why: str = "", payload: object = None, fault: str | None = None) -> str:
    return json.dumps({"v": 1, "passed": passed, "total": total, "why": why, "payload": payload,
                       "fault": fault}) + "\n"


@pytest.mark.parametrize(("stdout", "passed"), [
    (_line(3, 3), 3),
    (_line(2, 3, "x", [1]), 2),
    ("noise\n" + _line(3, 3), None),  # the trusted side's stdout is the report alone
    (_line(3, 3) + _line(3, 3), None),
    ('{"v": 1, "passed": "3", "total": 3, "why": ""}', None),  # malformed
    ('{"v": 2, "passed": 3, "total": 3, "why": ""}', None),
    ("", None),
])
def test_parse_report(stdout: str, passed: int | None) -> None:
    report = parse_report(stdout)
    assert (report.passed if report else None) == passed


def test_harness_request_runs_the_shipped_program_with_a_peer() -> None:
    req = harness_request(HarnessJob(mode="tests", tests=("assert 1",)), limits=ExecRequest(code="").limits)
    assert req.program == "harness" and req.argv == ("main",) and not req.code and not req.files
    assert b'"tests": ["assert 1"]' in req.stdin
    assert req.peer is not None and req.peer.program == "harness" and req.peer.argv == ("peer",)
    sat = harness_request(HarnessJob(mode="sat", sat="def sat(x): return True", answer="1"), limits=req.limits)
    assert sat.peer is None  # trusted code only


def test_reference_types_round_trip() -> None:
    suite = TestSuite(kind="stdio", cases=(IOCase(input="1\n", output="2\n"),), timeout_s=5.0, reference="x")
    assert TestSuite.from_json(suite.to_json()) == suite
    puzzle = Puzzle(name="a:0", sat="def sat(x: int): return x == 1", ans_type="int", sol_bodies=("    return 1",))
    assert Puzzle.from_json(puzzle.to_json()) == puzzle
    assert puzzle.reference(0) == "def sol():\n    return 1\n" and puzzle.reference(1) is None


@pytest.mark.parametrize("bad", [
    {"kind": "bogus", "cases": [{"input": "", "output": ""}]},
    {"kind": "function", "tests": []},
    {"kind": "call", "cases": [{"input": "[]", "output": "[]"}]},
    [],
])
def test_bad_suites_raise(bad: object) -> None:
    with pytest.raises(UsageError):
        TestSuite.from_json(bad)  # type: ignore[arg-type]


class FakeSandbox:
    """Answers each request with ``respond(request, call_number)``."""

    name = "fake"

    def __init__(self, respond: Callable[[ExecRequest, int], ExecResult]) -> None:
        self.respond, self.calls = respond, 0

    def run(self, request: ExecRequest) -> ExecResult:
        self.calls += 1
        return self.respond(request, self.calls)

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return [self.run(r) for r in requests]

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeSandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        pass


def _ok(req: ExecRequest, passed: int = 1, payload: object = None) -> ExecResult:
    return ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=_line(passed, 1, "", payload))


_SCRIPTS: dict[str, Callable[[ExecRequest, int], ExecResult]] = {
    "report_all_passed": lambda r, n: _ok(r),
    "report_short": lambda r, n: _ok(r, passed=0),
    "timeout": lambda r, n: ExecResult(status=ExecStatus.TIMEOUT, detail="wall-clock limit"),
    "memory": lambda r, n: ExecResult(status=ExecStatus.MEMORY, detail="MemoryError"),
    "output_limit": lambda r, n: ExecResult(status=ExecStatus.OUTPUT_LIMIT),
    "exit_1_no_report": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=1, stderr="Traceback\nValueError"),
    "exit_0_silent": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0),
    "exit_97_silent": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=97),
    "killed_silent": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=-9),
    "report_then_crash": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=-9, stdout=_line(1)),
    "two_reports": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=_line(1) * 2),
    "sandbox_error_once": lambda r, n: ExecResult(status=ExecStatus.SANDBOX_ERROR) if n == 1 else _ok(r),
    "sandbox_error_always": lambda r, n: ExecResult(status=ExecStatus.SANDBOX_ERROR, detail="runner died"),
    "harness_fault": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=_line(0, fault="bad job")),
    "miscounted": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=_line(2, total=2)),
}
_EXPECTED = {
    "report_all_passed": Outcome.ACCEPTED, "report_short": Outcome.REJECTED,
    "timeout": Outcome.TIMEOUT, "memory": Outcome.REJECTED, "output_limit": Outcome.REJECTED,
    "exit_1_no_report": Outcome.REJECTED, "exit_0_silent": Outcome.REJECTED,
    "exit_97_silent": Outcome.REJECTED, "killed_silent": Outcome.REJECTED,
    "report_then_crash": Outcome.ACCEPTED,  # the report is complete: the exit code is no evidence
    "two_reports": Outcome.REJECTED,
    "sandbox_error_once": Outcome.ACCEPTED, "sandbox_error_always": Outcome.ERROR,
    "harness_fault": Outcome.ERROR, "miscounted": Outcome.ERROR,
}


@pytest.mark.parametrize("script", sorted(_SCRIPTS))
def test_function_outcomes(script: str) -> None:
    verifier = CodeVerifier(sandbox=FakeSandbox(_SCRIPTS[script]), scale_timeouts=False)
    verdict = verifier.verify(Problem(id="p", task="t", prompt="", reference=_SUITE), "    return x + 1\n")
    assert verdict.outcome is _EXPECTED[script], verdict.detail
    assert verdict.verifier == "code.tests"


def test_no_code_is_no_answer_and_runs_nothing() -> None:
    box = FakeSandbox(_SCRIPTS["report_all_passed"])
    verdict = CodeVerifier(sandbox=box).verify(Problem(id="p", task="t", prompt="", reference=_SUITE), "  \n")
    assert verdict.outcome is Outcome.NO_ANSWER and box.calls == 0


def test_timeout_scales_with_the_reference_run_time_only_when_needed() -> None:
    seen: list[tuple[str, float]] = []

    def respond(req: ExecRequest, n: int) -> ExecResult:
        reference = b"return x + 1" in req.stdin
        seen.append(("ref" if reference else "cand", req.limits.timeout_s))
        if not reference and req.limits.timeout_s < 8.0 and b"slow" in req.stdin:
            return ExecResult(status=ExecStatus.TIMEOUT, detail="wall-clock limit")
        return ExecResult(status=ExecStatus.EXITED, exit_code=0, wall_s=2.0, stdout=_ok(req).stdout)

    suite = TestSuite(kind="function", entry_point="f", tests=("assert f(1) == 2",), timeout_s=3.0,
                      reference="def f(x):\n    return x + 1\n")
    verifier = CodeVerifier(sandbox=FakeSandbox(respond))
    problem = Problem(id="p", task="t", prompt="", reference=suite)
    fast = "def f(x):\n    return 1 + x\n"
    slow = "def f(x):\n    # slow\n    return 1 + x\n"
    for completion in (fast, slow, slow):
        assert verifier.verify(problem, completion).outcome is Outcome.ACCEPTED
    # fast: one run at the floor, no reference; slow: floor, then the reference (once,
    # under a generous limit), then 4 x 2.0 s; the second slow one reuses the measurement
    assert seen == [("cand", 3.0), ("cand", 3.0), ("ref", 30.0), ("cand", 8.0), ("cand", 3.0), ("cand", 8.0)]


@pytest.mark.parametrize(("stdout", "outcome"), [("3\n", Outcome.ACCEPTED), ("4\n", Outcome.REJECTED), ("", Outcome.REJECTED)])
def test_stdio_compares_each_case_on_the_host(stdout: str, outcome: Outcome) -> None:
    box = FakeSandbox(lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=stdout))
    suite = TestSuite(kind="stdio", cases=(IOCase(input="1 2\n", output="3"),) * 3)
    verdict = CodeVerifier(sandbox=box).verify(Problem(id="p", task="t", prompt="", reference=suite), "print(3)")
    assert verdict.outcome is outcome


@pytest.mark.parametrize(("payload", "outcome"), [
    (7, Outcome.ACCEPTED), (True, Outcome.REJECTED), (7.0, Outcome.REJECTED), ([7], Outcome.REJECTED),
])
def test_puzzle_checks_the_answer_type_on_the_host(payload: object, outcome: Outcome) -> None:
    jobs: list[bytes] = []

    def respond(req: ExecRequest, n: int) -> ExecResult:
        jobs.append(req.stdin)
        return _ok(req, payload=payload if b'"mode": "sol"' in req.stdin else None)

    puzzle = Puzzle(name="s:0", sat="def sat(x: int): return x == 7", ans_type="int")
    verifier = PuzzleVerifier(sandbox=FakeSandbox(respond))
    verdict = verifier.verify(Problem(id="p", task="t", prompt="", reference=puzzle), "def sol():\n    return 7\n")
    assert verdict.outcome is outcome, verdict.detail
    # sat runs in its own job, with the answer as JSON and no candidate code
    assert len(jobs) == (2 if outcome is Outcome.ACCEPTED else 1)
    if outcome is Outcome.ACCEPTED:
        assert b'"mode": "sat"' in jobs[1] and b'"candidate": ""' in jobs[1]


def test_puzzle_json_keeps_sat_trusted_and_checks_its_type() -> None:
    from verigen.errors import UsageError
    from verigen.verify.puzzle import Puzzle

    base = {"name": "M:0", "sat": "def sat(x: int):\n    return x == 1", "ans_type": "int"}
    assert Puzzle.from_json(base).sat_trusted is True  # P3's own layout: trusted data
    untrusted = Puzzle.from_json({**base, "sat_trusted": False})
    assert untrusted.sat_trusted is False and Puzzle.from_json(untrusted.to_json()).sat_trusted is False
    with pytest.raises(UsageError, match="sat_trusted"):
        Puzzle.from_json({**base, "sat_trusted": "no"})

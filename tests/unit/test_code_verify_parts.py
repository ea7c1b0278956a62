"""The host-side parts of the code and puzzle verifiers, without a real sandbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

import pytest

from verigen.errors import UsageError
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus
from verigen.types import Outcome, Problem
from verigen.verify._code_compare import loads, stdout_match, value_match
from verigen.verify._code_exec import HarnessJob, harness_request, parse_report
from verigen.verify._harness import is_plain, parse_type, type_ok
from verigen.verify.code import CodeVerifier, IOCase, TestSuite, assemble, extract_code
from verigen.verify.puzzle import Puzzle, PuzzleVerifier, answer_type_ok

NONCE = "ab" * 16


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
    ([0.1 + 0.2], 0.3, True),
    ([10**30], 10**30 + 1, False),
    ({"a": [1]}, {"a": [1]}, True),
    (["x"], "y", False),
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
    assert type_ok(value, parse_type(spec)) is ok
    assert answer_type_ok(ans_type=spec, answer=value) is ok


def test_unknown_answer_type_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="Set\\[int\\]"):
        Puzzle(name="x", sat="def sat(x): return True", ans_type="Set[int]")


class _AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True


class _IntSub(int):
    pass


@pytest.mark.parametrize(("value", "ok"), [
    ([1, "a", (2.0, None), {"k": {1, 2}}], True),
    (_AlwaysEqual(), False),
    ([1, [_AlwaysEqual()]], False),
    ({"k": _AlwaysEqual()}, False),
    (_IntSub(1), False),
    ([int, str, dict], True),  # builtin type objects are data (MBPP passes ``int``)
    (_AlwaysEqual, False),  # a user class is not
])
def test_plain_values(value: object, ok: bool) -> None:
    assert is_plain(value) is ok


def test_plain_values_with_allowed_objects() -> None:
    record = _AlwaysEqual()
    assert is_plain([record, 1], extra=frozenset({id(record)}))
    assert not is_plain([record, _AlwaysEqual()], extra=frozenset({id(record)}))
    assert is_plain({"a": [1, 2.0, None]}, json_only=True)
    assert not is_plain({1, 2}, json_only=True) and not is_plain(int, json_only=True)


def _line(nonce: str, passed: int, why: str = '""', payload: str = "null") -> str:
    return f"\n@@verigen:{nonce}:{passed}\t{why}\t{payload}\n"


@pytest.mark.parametrize(("stdout", "passed"), [
    (_line(NONCE, 3), 3),
    ("noise" + _line(NONCE, 2, '"x"', "[1]") + "more noise", 2),
    (_line("cd" * 16, 3), None),  # someone else's nonce
    (_line(NONCE, 3) + _line(NONCE, 3), None),  # two reports: not ours alone
    (f"@@verigen:{NONCE}:3", None),  # malformed
    ("", None),
])
def test_parse_report(stdout: str, passed: int | None) -> None:
    report = parse_report(stdout, NONCE)
    assert (report.passed if report else None) == passed


def test_harness_request_carries_nonce_job_and_program() -> None:
    req = harness_request(HarnessJob(mode="tests", tests=("assert 1",)), NONCE, limits=ExecRequest(code="").limits)
    assert req.stdin == (NONCE + "\n").encode()
    assert b'"tests": ["assert 1"]' in req.files["job.json"]
    assert "def _main()" in req.code and NONCE not in req.code


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


def _nonce(req: ExecRequest) -> str:
    return req.stdin.decode().split("\n", 1)[0]


def _ok(req: ExecRequest, passed: int = 1, payload: str = "null") -> ExecResult:
    return ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=_line(_nonce(req), passed, '""', payload))


_SCRIPTS: dict[str, Callable[[ExecRequest, int], ExecResult]] = {
    "report_all_passed": lambda r, n: _ok(r),
    "report_short": lambda r, n: _ok(r, passed=0),
    "timeout": lambda r, n: ExecResult(status=ExecStatus.TIMEOUT, detail="wall-clock limit"),
    "memory": lambda r, n: ExecResult(status=ExecStatus.MEMORY, detail="MemoryError"),
    "output_limit": lambda r, n: ExecResult(status=ExecStatus.OUTPUT_LIMIT),
    "exit_1": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=1, stderr="Traceback\nValueError"),
    "exit_0_silent": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0),
    "exit_0_wrong_nonce": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=_line("0" * 32, 1)),
    "report_then_crash": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=-9, stdout=_line(_nonce(r), 1)),
    "sandbox_error_once": lambda r, n: ExecResult(status=ExecStatus.SANDBOX_ERROR) if n == 1 else _ok(r),
    "sandbox_error_always": lambda r, n: ExecResult(status=ExecStatus.SANDBOX_ERROR, detail="runner died"),
    "harness_fault": lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=97),
}
_EXPECTED = {
    "report_all_passed": Outcome.ACCEPTED, "report_short": Outcome.REJECTED,
    "timeout": Outcome.TIMEOUT, "memory": Outcome.REJECTED, "output_limit": Outcome.REJECTED,
    "exit_1": Outcome.REJECTED, "exit_0_silent": Outcome.REJECTED,
    "exit_0_wrong_nonce": Outcome.REJECTED, "report_then_crash": Outcome.REJECTED,
    "sandbox_error_once": Outcome.ACCEPTED, "sandbox_error_always": Outcome.ERROR,
    "harness_fault": Outcome.ERROR,
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


def test_timeout_scales_with_the_reference_run_time() -> None:
    seen: list[float] = []

    def respond(req: ExecRequest, n: int) -> ExecResult:
        seen.append(req.limits.timeout_s)
        return ExecResult(status=ExecStatus.EXITED, exit_code=0, wall_s=2.0, stdout=_ok(req).stdout)

    suite = TestSuite(kind="function", entry_point="f", tests=("assert f(1) == 2",), timeout_s=3.0,
                      reference="def f(x):\n    return x + 1\n")
    verifier = CodeVerifier(sandbox=FakeSandbox(respond))
    problem = Problem(id="p", task="t", prompt="", reference=suite)
    for _ in range(2):
        assert verifier.verify(problem, "def f(x):\n    return x + 1\n").outcome is Outcome.ACCEPTED
    assert seen[1:] == [8.0, 8.0]  # measured once, then 4 x 2.0 s


@pytest.mark.parametrize(("stdout", "outcome"), [("3\n", Outcome.ACCEPTED), ("4\n", Outcome.REJECTED), ("", Outcome.REJECTED)])
def test_stdio_compares_each_case_on_the_host(stdout: str, outcome: Outcome) -> None:
    box = FakeSandbox(lambda r, n: ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout=stdout))
    suite = TestSuite(kind="stdio", cases=(IOCase(input="1 2\n", output="3"),) * 3)
    verdict = CodeVerifier(sandbox=box).verify(Problem(id="p", task="t", prompt="", reference=suite), "print(3)")
    assert verdict.outcome is outcome


@pytest.mark.parametrize(("payload", "outcome"), [
    ("7", Outcome.ACCEPTED), ("true", Outcome.REJECTED), ("7.0", Outcome.REJECTED), ("[7]", Outcome.REJECTED),
])
def test_puzzle_checks_the_answer_type_on_the_host(payload: str, outcome: Outcome) -> None:
    jobs: list[bytes] = []

    def respond(req: ExecRequest, n: int) -> ExecResult:
        jobs.append(req.files["job.json"])
        return _ok(req, payload=payload if b'"mode": "sol"' in req.files["job.json"] else "null")

    puzzle = Puzzle(name="s:0", sat="def sat(x: int): return x == 7", ans_type="int")
    verifier = PuzzleVerifier(sandbox=FakeSandbox(respond))
    verdict = verifier.verify(Problem(id="p", task="t", prompt="", reference=puzzle), "def sol():\n    return 7\n")
    assert verdict.outcome is outcome, verdict.detail
    # sat runs in its own job, with the answer as JSON and no candidate code
    assert len(jobs) == (2 if outcome is Outcome.ACCEPTED else 1)
    if outcome is Outcome.ACCEPTED:
        assert b'"mode": "sat"' in jobs[1] and b'"candidate": ""' in jobs[1]

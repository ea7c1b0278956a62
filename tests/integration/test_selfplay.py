"""Self-play puzzles in the sandbox: the admission verdicts (keep / drop with the stage /
error), ``verigen check puzzle``, and ``verigen selfplay`` end to end on a fake sampler
scripted with good, trivial, constant, crashing, duplicate and unsolved puzzles, its
puzzles.json then served and verified by the ``p3`` task."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus
from verigen.selfplay import AdmissionConfig, PuzzleAdmission

pytestmark = pytest.mark.bwrap

FAST = AdmissionConfig(probe_timeout_s=3.0, timeout_s=5.0, workers=2)
GOOD = "def sat(li: List[int]):\n    return len(li) == 7 and sum(li) == 123 and li[0] == 9\n"
GOOD_SOL = "```python\ndef sol():\n    return [9, 100, 14, 0, 0, 0, 0]\n```"


@pytest.fixture(scope="module")
def bwrap() -> str:
    from verigen.sandbox import select

    reason = select.bwrap_unavailable_reason()
    if reason is not None:
        skip_or_fail("bwrap", reason)
    return "bwrap"


@pytest.fixture(scope="module")
def admission(bwrap: str) -> Iterator[PuzzleAdmission]:
    a = PuzzleAdmission(sandbox=bwrap, config=FAST)
    yield a
    a.close()


SCREEN_CASES = [
    # (puzzle, stage of the drop or None when it passes screening)
    (GOOD, None),
    ("def sat(s: str):\n    return s.count('ab') == 5 and len(s) == 11\n", None),
    ("def sat(n: int):\n    return n % 2 == 0\n", "trivial"),  # 0 satisfies it
    ("def sat(s: str, target='needle'):\n    return s == target\n", "trivial"),  # its own constant
    ("def sat(li: List[int]):\n    return len(li) <= 1\n", "trivial"),  # the empty list
    ("def sat(s: str):\n    return True or s\n", "constant"),
    ("def sat(b: bool):\n    return b\n", "trivial"),  # both bools are probed
    ("def sat(n: int):\n    import os\n    os._exit(3)\n", "load"),  # crashes
    ("def sat(n: int):\n    while True:\n        pass\n", "load"),  # never returns
    ("def sat(n: int)\n    return n\n", "parse"),
    ("def sat(n: set):\n    return n\n", "type"),
]


@pytest.mark.parametrize(("text", "stage"), SCREEN_CASES)
def test_screen(admission: PuzzleAdmission, text: str, stage: str | None) -> None:
    screened = admission.screen("t:0", "```python\n" + text + "```")
    if stage is None:
        assert screened.verdict is None and screened.probes > 10
    else:
        assert screened.verdict is not None and screened.verdict.status == "drop", screened.verdict
        assert screened.verdict.stage == stage, screened.verdict


def test_judge_keeps_only_verified_solutions(admission: PuzzleAdmission) -> None:
    screened = admission.screen("good:0", GOOD)
    assert screened.puzzle is not None
    wrong = "def sol():\n    return [1]\n"
    bool_inside = "def sol():\n    return [9, 113, 0, 0, 0, 0, True]\n"  # sums right, but True is not an int
    [keep] = admission.judge([screened.puzzle], [[wrong, GOOD_SOL, bool_inside, GOOD_SOL]])
    assert keep.status == "keep" and keep.bodies == ("    return [9, 100, 14, 0, 0, 0, 0]\n",)
    assert keep.attempts == 4 and keep.accepted == 2
    [drop] = admission.judge([screened.puzzle], [[wrong, bool_inside, "no code at all"]])
    assert drop.status == "drop" and drop.stage == "solve" and "rejected" in drop.reason


class _BrokenSandbox:
    """Every run is an infrastructure fault."""

    name = "broken"

    def run(self, request: ExecRequest) -> ExecResult:
        return ExecResult(status=ExecStatus.SANDBOX_ERROR, exit_code=None, stdout="", stderr="", wall_s=0.0,
                          detail="the sandbox is down")

    def run_many(self, requests: list[ExecRequest]) -> list[ExecResult]:
        return [self.run(r) for r in requests]

    def close(self) -> None:
        return None


def test_infrastructure_fault_is_an_error_never_keep_or_drop(admission: PuzzleAdmission) -> None:
    broken = PuzzleAdmission(sandbox=_BrokenSandbox(), config=FAST)  # type: ignore[arg-type]
    screened = broken.screen("good:0", GOOD)
    assert screened.verdict is not None and screened.verdict.status == "error"
    good = admission.screen("good:0", GOOD).puzzle
    assert good is not None
    [verdict] = broken.judge([good], [[GOOD_SOL]])
    assert verdict.status == "error" and verdict.stage == "solve"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verigen.cli", *args], capture_output=True, text=True, timeout=300)


def test_check_puzzle_cli(tmp_path: Path, bwrap: str) -> None:
    puzzle, sol, trivial = tmp_path / "p.py", tmp_path / "s.py", tmp_path / "t.py"
    puzzle.write_text(GOOD)
    sol.write_text(GOOD_SOL)
    trivial.write_text("def sat(n: int):\n    return n > -5\n")
    base = ["check", "puzzle", "--sandbox", bwrap, "--data-dir", str(tmp_path), "--json"]
    keep = _cli(*base, "--file", str(puzzle), "--solution", str(sol))
    assert keep.returncode == 0, keep.stderr
    row = json.loads(keep.stdout)
    assert row["status"] == "keep" and row["sol_bodies"] and "not checked against the P3 test" in row["note"]
    unsolved = json.loads(_cli(*base, "--file", str(puzzle)).stdout)
    assert unsolved["status"] == "drop" and unsolved["stage"] == "solve"
    drop = json.loads(_cli(*base, "--file", str(trivial), "--solution", str(sol)).stdout)
    assert drop["status"] == "drop" and drop["stage"] == "trivial" and "sat(0) is True" in drop["reason"]
    missing = _cli(*base, "--file", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "nope.py" in missing.stderr

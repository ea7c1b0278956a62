"""Self-play puzzles in the sandbox: the admission verdicts (keep / drop with the stage /
error), ``verigen check puzzle``, and ``verigen selfplay`` end to end on a fake sampler
scripted with good, trivial, constant, crashing, duplicate and unsolved puzzles, its
puzzles.json then served and verified by the ``p3`` task."""

from __future__ import annotations

import json
import shutil
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


def _fenced(code: str) -> str:
    return "```python\n" + code + "```"


SEED_TRAIN = [
    {"name": "Seed1:0", "sat": "def sat(x: int):\n    return x * x == 1764 and x > 0", "ans_type": "int",
     "sol_bodies": ["    return 42"]},
    {"name": "Seed2:0", "sat": "def sat(s: str):\n    return s[::-1] == 'olleh'", "ans_type": "str",
     "sol_bodies": ["    return 'hello'"]},
]
SEED_TEST = [{"name": "Held1:0", "sat": "def sat(s: str, n=7):\n    return s.count('x') == n and len(s) == 2 * n",
              "ans_type": "str", "sol_bodies": ["    return 'x' * n + 'a' * n"]}]
WRITE_R0 = [
    GOOD,  # kept
    "def sat(n: int):\n    return n % 2 == 0\n",  # trivial
    "def sat(s: str):\n    return True or s\n",  # constant
    "def sat(n: int):\n    raise SystemExit(0) if n else __import__('os')._exit(1)\n",  # crashes
    "def sat(xs: List[int]):\n    return len(xs) == 5 and sum(xs) == 77 and xs[0] == 3\n",  # duplicate of GOOD
    "def sat(t: str, k=4):\n    return t.count('x') == k and len(t) == 2 * k\n",  # duplicate of a test puzzle
    "def sat(n: int):\n    return n > 10**6 and n % 1234567 == 89\n",  # no right solution below
    "Here is a puzzle: sat(x) = x is cool",  # no code that parses
]
SOLUTIONS = {
    "SelfPlay_r0_0:0": ["def sol():\n    return 'wrong type'\n", GOOD_SOL],
    "SelfPlay_r0_4:0": [_fenced("def sol():\n    return [3, 74, 0, 0, 0]\n")],
    "SelfPlay_r0_5:0": [_fenced("def sol():\n    return 'xxxxaaaa'\n")],
    "SelfPlay_r0_6:0": [_fenced("def sol():\n    return 89\n")],
    "SelfPlay_r1_1:0": [_fenced("def sol():\n    return [1, 54, 0, 0]\n")],
    "SelfPlay_r1_0:0": [_fenced("import math\n\ndef sol():\n    return 'a' * math.isqrt(49)\n")],
}
WRITE_R1 = [
    "def sat(s: str):\n    return len(s) == 7 and set(s) == {'a'}\n",  # kept
    "def sat(q: List[int]):\n    return len(q) == 4 and sum(q) == 55 and q[0] == 1\n",  # duplicate of round 0
]


def _seed_data(root: Path) -> Path:
    (root / "p3").mkdir(parents=True)
    (root / "p3" / "puzzles.json").write_text(json.dumps(SEED_TRAIN + SEED_TEST))
    (root / "p3" / "split.json").write_text(json.dumps({"train": ["Seed1", "Seed2"], "test": ["Held1"]}))
    return root


def _script(path: Path) -> Path:
    script: dict[str, list[str]] = {"*": ["I cannot write that."]}
    for r, texts in ((0, WRITE_R0), (1, WRITE_R1)):
        for i, text in enumerate(texts):
            script[f"selfplay/r{r}/write/{i}"] = [_fenced(text) if i < 7 else text]
    for name, sols in SOLUTIONS.items():
        script[f"p3/{name}"] = sols
    path.write_text(json.dumps(script))
    return path


def test_selfplay_end_to_end(tmp_path: Path, bwrap: str) -> None:
    from verigen.task import TaskContext, create_task
    from verigen.types import Outcome

    seed, out = _seed_data(tmp_path / "seed"), tmp_path / "out"
    args = ["selfplay", "--backend", "fake", "--model", str(_script(tmp_path / "script.json")), "--seed-task", "p3",
            "--rounds", "2", "--puzzles", "8", "--attempts", "2", "--out", str(out), "--data-dir", str(seed),
            "--sandbox", bwrap]
    run = _cli(*args)
    assert run.returncode == 0, run.stderr
    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert rounds == [
        {"round": 0, "generated": 8, "parsed": 7, "non_trivial": 4, "solved": 3, "kept": 1, "errors": 0},
        {"round": 1, "generated": 8, "parsed": 2, "non_trivial": 2, "solved": 2, "kept": 1, "errors": 0},
    ]
    log = {(r["round"], r["index"]): r for r in map(json.loads, (out / "puzzles.jsonl").read_text().splitlines())}
    stages = [log[(0, i)]["stage"] for i in range(8)]
    assert stages == ["solve", "trivial", "constant", "load", "duplicate", "duplicate", "solve", "parse"]
    assert "SelfPlay_r0_0:0" in log[(0, 4)]["reason"] and "Held1:0" in log[(0, 5)]["reason"]
    assert "SelfPlay_r0_0:0" in log[(1, 1)]["reason"]
    assert [log[(r, i)]["status"] for r, i in ((0, 0), (0, 6), (1, 0))] == ["keep", "drop", "keep"]

    puzzles = json.loads((out / "p3" / "puzzles.json").read_text())
    assert [p["name"] for p in puzzles] == ["SelfPlay_r0_0:0", "SelfPlay_r1_0:0"]
    assert all({"name", "sat", "sol_bodies", "ans_type"} <= set(p) for p in puzzles)
    sft = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == 2 and sft[0]["messages"][-1]["role"] == "assistant"
    assert "def sat(li: List[int])" in sft[0]["messages"][0]["content"]

    # The no-verifier ablation: every attempt at a screened puzzle, right or wrong, and a
    # sample of as many as sft.jsonl holds.
    unverified = [json.loads(line) for line in (out / "unverified.jsonl").read_text().splitlines()]
    screened = {f"SelfPlay_r0_{i}:0" for i in (0, 4, 5, 6)} | {f"SelfPlay_r1_{i}:0" for i in (0, 1)}
    assert {r["provenance"]["puzzle"] for r in unverified} == screened
    assert len(unverified) == 2 * len(screened)  # --attempts 2 each
    assert any("wrong type" in r["messages"][-1]["content"] for r in unverified)  # kept although it fails
    assert all(r["provenance"]["verifier"] is None for r in unverified)
    ablation = [json.loads(line) for line in (out / "sft_unverified.jsonl").read_text().splitlines()]
    assert len(ablation) == len(sft) and all(r in unverified for r in ablation)

    # The dataset is P3's own layout: the p3 task serves it and its verifier accepts every body.
    task = create_task("p3", {}, TaskContext(data_dir=out, sandbox=bwrap))
    problems = list(task.problems(split="train", seed=0))
    assert [p.id for p in problems] == ["p3/SelfPlay_r0_0:0", "p3/SelfPlay_r1_0:0"]
    verifier = task.verifier()
    try:
        for problem in problems:
            reference = task.reference_solution(problem)
            assert reference is not None
            assert verifier.verify(problem, reference).outcome is Outcome.ACCEPTED
    finally:
        verifier.close()

    files = {name: (out / name).read_bytes() for name in ("rounds.jsonl", "sft.jsonl", "puzzles.jsonl")}
    again = _cli(*args)  # the same command on a finished run: nothing left to do, nothing rewritten
    assert again.returncode == 0, again.stderr
    assert {name: (out / name).read_bytes() for name in files} == files
    other = _cli(*[a if a != "8" else "4" for a in args])  # --puzzles 4: other settings
    assert other.returncode == 2 and "other settings (options" in other.stderr
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    refused = _cli(*args[:-5], str(stray), *args[-4:])
    assert refused.returncode == 2 and "not an empty folder nor a selfplay run" in refused.stderr
    assert (stray / "notes.txt").read_text() == "mine" and len(list(stray.iterdir())) == 1


def test_selfplay_resumes_after_its_last_finished_round(tmp_path: Path, bwrap: str) -> None:
    seed, out = _seed_data(tmp_path / "seed"), tmp_path / "out"
    script = _script(tmp_path / "script.json")

    def args(rounds: int, folder: Path) -> list[str]:
        return ["selfplay", "--backend", "fake", "--model", str(script), "--seed-task", "p3", "--rounds", str(rounds),
                "--puzzles", "8", "--attempts", "2", "--out", str(folder), "--data-dir", str(seed), "--sandbox", bwrap]

    first = _cli(*args(1, out))
    assert first.returncode == 0, first.stderr
    assert len((out / "rounds.jsonl").read_text().splitlines()) == 1
    extended = _cli(*args(2, out))  # a larger --rounds continues the run
    assert extended.returncode == 0 and "resuming after round 0" in extended.stderr, extended.stderr
    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    # the same counts as two rounds in one go: round 1's duplicate of a round-0 puzzle is still found
    assert rounds[1] == {"round": 1, "generated": 8, "parsed": 2, "non_trivial": 2, "solved": 2, "kept": 1, "errors": 0}
    names = [p["name"] for p in json.loads((out / "p3" / "puzzles.json").read_text())]
    assert names == ["SelfPlay_r0_0:0", "SelfPlay_r1_0:0"]
    done = {name: (out / name).read_bytes() for name in ("rounds.jsonl", "sft.jsonl", "puzzles.jsonl", "p3/puzzles.json",
                                                         "unverified.jsonl", "sft_unverified.jsonl")}

    # Killed in round 1 after every file but rounds.jsonl was written: round 1 runs again.
    killed = tmp_path / "killed"
    shutil.copytree(out, killed)
    (killed / "rounds.jsonl").write_text((out / "rounds.jsonl").read_text().splitlines()[0] + "\n")
    again = _cli(*args(2, killed))
    assert again.returncode == 0, again.stderr
    assert {name: (killed / name).read_bytes() for name in done} == done


def test_check_puzzle_drops_a_renamed_p3_test_puzzle(tmp_path: Path, bwrap: str, shared_data: Path) -> None:
    # P3's TriangleArea:3 (a test family) with its names changed
    puzzle, sol = tmp_path / "p.py", tmp_path / "s.py"
    puzzle.write_text("def sat(h: int, a=1238452500, b=600):\n    return b * h == 2 * a\n")
    sol.write_text(_fenced("def sol():\n    return 2 * 1238452500 // 600\n"))
    res = _cli("check", "puzzle", "--file", str(puzzle), "--solution", str(sol), "--sandbox", bwrap,
               "--data-dir", str(shared_data), "--json")
    row = json.loads(res.stdout)
    assert row["status"] == "drop" and row["stage"] == "duplicate", row
    assert "TriangleArea:" in row["reason"]

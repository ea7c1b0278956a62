"""The CLI's contract for bad input: one clear line naming the value, exit code 2, and
nothing already written in the run directory lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def verigen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verigen.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "--task", "no-such-task", "--backend", "fake", "--model", "echo"], "unknown task 'no-such-task'"),
        (["generate", "--set", "sampling.n=lots"], "sampling.n='lots'"),
        (["generate", "--set", "nonsense"], "'nonsense'"),
        (["generate", "--task-arg", "difficulty"], "bad --task-arg 'difficulty'"),
        (["generate", "--backend", "no-such-backend", "--model", "echo"], "unknown sampler 'no-such-backend'"),
        (["evaluate", "--config", "/no/such/file.toml"], "does not exist"),
        (["check", "math", "--reference", "1"], "needs --reference and --answer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    res = verigen(*args, "--out", str(tmp_path / "run"), cwd=tmp_path) if args[0] in ("generate", "evaluate") else verigen(*args)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_malformed_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sampling]\nn = 'x'\n")
    res = verigen("generate", "--config", str(cfg))
    assert res.returncode == 2 and "sampling.n='x'" in res.stderr and str(cfg) in res.stderr


def test_check_math_batch_rejects_a_broken_row_before_writing(tmp_path: Path) -> None:
    src = tmp_path / "pairs.jsonl"
    src.write_text(json.dumps({"reference": "1", "answer": "1"}) + "\n{broken\n")
    out = tmp_path / "out.jsonl"
    out.write_text("keep me\n")
    res = verigen("check", "math", "--input", str(src), "--output", str(out))
    assert res.returncode == 2 and f"{src}:2" in res.stderr
    assert out.read_text() == "keep me\n"

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
        # an option's own bounds (typer raises its own copy of click's errors)
        (["check", "math", "--workers", "0", "--input", "/dev/null"], "Invalid value for '--workers'"),
        (["selfplay", "--model", "x", "--rounds", "0", "--out", "/nonexistent/sp"], "Invalid value for '--rounds'"),
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


def test_broken_data_row_is_exit_2_and_an_existing_run_survives(tmp_path: Path) -> None:
    data = tmp_path / "data" / "gsm8k"
    data.mkdir(parents=True)
    good = json.dumps({"question": "1+1?", "answer": "2\n#### 2"})
    (data / "test.jsonl").write_text(good + "\n" + good + "\n{not json\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text("precious\n")
    res = verigen("evaluate", "--task", "gsm8k", "--data-dir", str(tmp_path / "data"),
                  "--backend", "fake", "--model", "echo", "--out", str(run))
    assert res.returncode == 2, res.stderr
    assert "test.jsonl:3" in res.stderr
    assert (run / "samples.jsonl").read_text() == "precious\n"
    assert sorted(p.name for p in run.iterdir()) == ["samples.jsonl"]


def test_generate_end_to_end_with_the_math_verifier(tmp_path: Path) -> None:
    """arithmetic problems, a scripted sampler, the real math verifier, through the CLI."""
    from verigen.task import TaskContext, create_task

    task = create_task("arithmetic", {"difficulty": "1", "count": "3"}, TaskContext())
    problems = list(task.problems(split="train", seed=0))
    script = {}
    for p in problems:
        gold = p.reference.text  # type: ignore[attr-defined]
        script[p.id] = [f"So the answer is \\boxed{{{gold}}}.", "I am not sure.", f"\\boxed{{{gold}}} or \\boxed{{{gold}1}}"]
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    run = tmp_path / "run"
    args = ("generate", "--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=3",
            "--backend", "fake", "--model", str(sf), "-n", "3", "--out", str(run))
    res = verigen(*args)
    assert res.returncode == 0, res.stderr
    assert "pass@1" in res.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["outcomes"] == {"accepted": 3, "rejected": 3, "no_answer": 3, "timeout": 0, "error": 0}
    assert metrics["pass@k"]["1"]["value"] == pytest.approx(1 / 3)
    assert metrics["pass@k"]["3"]["value"] == pytest.approx(1.0)
    sft = [json.loads(x) for x in (run / "sft.jsonl").read_text().splitlines()]
    assert len(sft) == 3 and all(r["provenance"]["verifier"] == "math" for r in sft)
    samples = (run / "samples.jsonl").read_text()
    # rerunning the same command resumes: nothing new, nothing duplicated
    res = verigen(*args)
    assert res.returncode == 0, res.stderr
    assert (run / "samples.jsonl").read_text() == samples


def test_an_unknown_sandbox_is_bad_input_before_anything_is_written(tmp_path: Path, shared_data: Path) -> None:
    res = verigen("evaluate", "--task", "humaneval", "--data-dir", str(shared_data),
                  "--sandbox", "no-such-sandbox", "--backend", "fake",
                  "--model", "echo", "--out", str(tmp_path / "run"))
    assert res.returncode == 2, res.stderr
    assert "unknown sandbox 'no-such-sandbox'" in res.stderr
    assert not (tmp_path / "run").exists()

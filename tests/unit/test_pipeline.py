from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit._toy import ToyArgs, ToyTask
from verigen.config import build_config
from verigen.errors import UsageError
from verigen.pipeline import execute, plan
from verigen.sampling.fake import FakeSampler
from verigen.task import TaskContext
from verigen.types import SamplingParams


def make(tmp_path: Path, script: dict[str, list[str]], *sets: str):
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    cfg = build_config(
        overrides=[f"output.out={tmp_path / 'run'}", "sampling.n=3", "model.backend=fake", f"model.name={sf}", "task.name=toy",
                   "verify.max_error_rate=1", *sets]
    )
    task = ToyTask(ToyArgs(count=3), TaskContext())
    return cfg, task, FakeSampler(str(sf))


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_end_to_end_writes_verified_data_and_metrics(tmp_path: Path) -> None:
    script = {"toy/train/0": ["0", "1", "0"], "toy/train/1": ["9"], "*": ["hang", "2", "crash"]}
    cfg, task, sampler = make(tmp_path, script, "verify.time_limit_s=1")
    summary = execute(plan(cfg, task), sampler=sampler)
    run = tmp_path / "run"
    samples = rows(run / "samples.jsonl")
    assert len(samples) == 9
    assert {(r["problem_id"], r["sample_index"]) for r in samples} == {(f"toy/train/{p}", i) for p in range(3) for i in range(3)}
    by_key = {(r["problem_id"], r["sample_index"]): r["verdict"]["outcome"] for r in samples}
    assert by_key[("toy/train/2", 0)] == "timeout"
    assert by_key[("toy/train/2", 1)] == "accepted"
    assert by_key[("toy/train/2", 2)] == "error"
    sft = rows(run / "sft.jsonl")
    # problem 0: "0" twice (dedup -> 1 row), problem 2: one accepted
    assert len(sft) == 2
    assert sft[0]["messages"][-1] == {"role": "assistant", "content": "0"}
    prov = sft[0]["provenance"]
    assert prov["task"] == "toy" and prov["verifier"] == "toy" and prov["outcome"] == "accepted"
    assert prov["params"]["n"] == 3 and prov["model"].startswith("fake:")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["outcomes"]["error"] == 1
    assert metrics["pass@k"]["3"]["missing"] == 1  # problem 2 has n=2 after the ERROR
    assert summary.metrics.accepted_problems == 2
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["problems"] == 3 and len(manifest["problems_sha256"]) == 64
    assert (run / "config.toml").read_text().count('split = "train"') == 1
    assert "pass@k" in (run / "report.md").read_text()


def test_resume_after_a_torn_write_has_no_loss_and_no_duplicates(tmp_path: Path) -> None:
    cfg, task, sampler = make(tmp_path, {"*": ["0", "1", "2"]})
    execute(plan(cfg, task), sampler=sampler)
    path = tmp_path / "run" / "samples.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]) + lines[4][:20])  # killed mid-write
    summary = execute(plan(cfg, task), sampler=FakeSampler(str(tmp_path / "script.json")))
    again = rows(path)
    assert len(again) == 9
    assert len({(r["problem_id"], r["sample_index"]) for r in again}) == 9
    assert summary.resumed_samples == 4 and summary.new_samples == 5
    # a third run has nothing to do and loads no model
    summary = execute(plan(cfg, task))
    assert summary.new_samples == 0 and len(rows(path)) == 9


def test_a_different_config_never_touches_an_existing_run(tmp_path: Path) -> None:
    cfg, task, sampler = make(tmp_path, {"*": ["0"]})
    execute(plan(cfg, task), sampler=sampler)
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    cfg2, _, _ = make(tmp_path, {"*": ["0"]}, "sampling.temperature=0.1")
    with pytest.raises(UsageError, match=r"another config .*temperature"):
        plan(cfg2, task)
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == before


def test_evaluate_mode_writes_no_training_data(tmp_path: Path) -> None:
    cfg, task, sampler = make(tmp_path, {"*": ["0"]}, "mode=evaluate", "task.split=test")
    execute(plan(cfg, task), sampler=sampler)
    assert not (tmp_path / "run" / "sft.jsonl").exists()
    assert (tmp_path / "run" / "metrics.json").exists()


def test_fake_sampler_is_deterministic_and_checks_its_script(tmp_path: Path) -> None:
    from verigen.sampling.base import generate_all
    from verigen.types import ChatMessage, GenerationRequest

    req = [GenerationRequest(problem_id="x", messages=(ChatMessage(role="user", content="hi"),))]
    s = FakeSampler("echo")
    assert [c.text for c in generate_all(s, req, SamplingParams(n=2))[0]] == ["hi", "hi"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": 3}')
    with pytest.raises(UsageError, match="entry 'x'"):
        FakeSampler(str(bad))
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(UsageError, match="no entry for problem 'x'"):
        generate_all(FakeSampler(str(empty)), req, SamplingParams(n=1))


def test_default_output_dir_is_named_after_task_split_and_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = build_config(overrides=["task.name=toy", "mode=evaluate", "model.backend=fake", "model.name=echo"])
    p = plan(cfg, ToyTask(ToyArgs(count=1), TaskContext()))
    assert p.config.output.out == Path("runs/toy-test-evaluate")
    assert p.config.task.split == "test"


def test_a_rerun_verifies_error_samples_again_without_resampling(tmp_path: Path) -> None:
    cfg, task, sampler = make(tmp_path, {"*": ["crash", "0"]})
    summary = execute(plan(cfg, task), sampler=sampler)
    assert summary.metrics.outcomes["error"] == 6  # samples 0 and 2 of each problem: worker died
    path = tmp_path / "run" / "samples.jsonl"
    # the machinery is "repaired": rewrite the texts of the ERROR rows as a fixed verifier would see them
    rows_before = rows(path)
    fixed = [dict(r, text="1") if r["verdict"]["outcome"] == "error" else r for r in rows_before]
    path.write_text("".join(json.dumps(r) + "\n" for r in fixed))
    summary = execute(plan(cfg, task))  # no sampler needed: nothing to sample
    assert summary.metrics.outcomes["error"] == 0
    assert summary.new_samples == 6
    latest = {}
    for r in rows(path):
        latest[(r["problem_id"], r["sample_index"])] = r
    assert len(latest) == 9 and len(rows(path)) == 15  # appended, never rewritten
    assert latest[("toy/train/1", 0)]["verdict"]["outcome"] == "accepted"

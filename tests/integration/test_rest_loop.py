"""``verigen rest`` end to end on a tiny configuration: the fake sampler for the E-step and
the evaluations, a real M-step on a tiny random Llama, and SIGKILL in each stage (E-step,
M-step, evaluation) followed by a resume that redoes nothing finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration._tiny_model import save_tiny_llama
from verigen.task import TaskContext, create_task

REPO = Path(__file__).resolve().parents[2]
TRAIN, HELDOUT, N = 4, 3, 2


def _script(path: Path) -> Path:
    """Per problem: the correct worked solution, then a wrong answer (pass@1 = 50%)."""
    task = create_task("arithmetic", {}, TaskContext.from_env(None))
    script: dict[str, list[str]] = {}
    for split, limit in (("train", TRAIN), ("test", HELDOUT)):
        for i, p in enumerate(task.problems(split=split, seed=0)):
            if i >= limit:
                break
            script[p.id] = [task.reference_solution(p) or "", "The answer is \\boxed{-123456}."]
    path.write_text(json.dumps(script))
    return path


def _config(path: Path, tiny: Path, script: Path, *, delay: float) -> Path:
    path.write_text(f"""
[task]
name = "arithmetic"
limit = {TRAIN}
[model]
backend = "fake"
name = "{script}"
delay_s = {delay}
[sampling]
n = {N}
[train]
max_steps = 2
batch_size = 2
learning_rate = 1e-3
device = "cpu"
max_length = 256
[rest]
iterations = 2
base_model = "{tiny}"
max_per_problem = 1
eval_tasks = [{{ name = "arithmetic", split = "test", limit = {HELDOUT} }}]
[output]
report_plots = false
[output.decontam]
against = []
""")
    return path


def _cmd(cfg: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "verigen.cli", "rest", "--config", str(cfg), "--out", str(out)]


def _run(cfg: Path, out: Path) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(_cmd(cfg, out), capture_output=True, text=True, cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _kill_when(cfg: Path, out: Path, ready: Callable[[], bool], what: str) -> None:
    proc = subprocess.Popen(_cmd(cfg, out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        assert proc.poll() is None, f"the loop ended before it was in its {what}: {proc.stderr.read()[-2000:] if proc.stderr else ''}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")] if path.exists() else []


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


def test_rest_loop_end_to_end_with_sigkill_in_every_stage(tiny: Path, tmp_path: Path) -> None:
    cfg = _config(tmp_path / "rest.toml", tiny, _script(tmp_path / "script.json"), delay=0.15)
    out = tmp_path / "loop"
    it1 = out / "iter_1"
    # 1. killed in iteration 1's E-step, after some samples are on disk
    _kill_when(cfg, out, lambda: len(_lines(it1 / "estep" / "samples.jsonl")) >= 1, "E-step")
    assert not (it1 / "estep.json").exists()
    # 2. killed in the M-step (its start record is on disk, its checkpoint is not)
    _kill_when(cfg, out, lambda: (it1 / "mstep" / "train-started.json").exists(), "M-step")
    assert (it1 / "estep.json").exists() and not (it1 / "mstep" / "train.json").exists()
    estep_before = (it1 / "estep" / "samples.jsonl").read_bytes()
    estep_marker = (it1 / "estep.json").read_bytes()
    # 3. killed in iteration 2's evaluation (after both M-steps finished)
    it2 = out / "iter_2"
    _kill_when(cfg, out, lambda: len(_lines(it2 / "eval" / "heldout-arithmetic-test" / "samples.jsonl")) >= 1, "evaluation")
    assert (it1 / "estep" / "samples.jsonl").read_bytes() == estep_before  # the finished E-step was not resampled
    assert (it1 / "estep.json").read_bytes() == estep_marker
    trained = {k: (out / f"iter_{k}" / "mstep" / "train.json").read_bytes() for k in (1, 2)}
    partial = json.loads((out / "loop.json").read_text())
    assert partial["finished"] is False and [i["iteration"] for i in partial["iterations"]] == [0, 1]
    # 4. the rest, to the end
    res = _run(cfg, out)
    for k in (1, 2):  # the finished M-steps were not retrained
        assert (out / f"iter_{k}" / "mstep" / "train.json").read_bytes() == trained[k]

    loop = json.loads((out / "loop.json").read_text())
    assert loop["finished"] and [i["iteration"] for i in loop["iterations"]] == [0, 1, 2]
    assert loop["base_model"] == str(tiny) and loop["from_base"] is True
    for k in (1, 2):
        m = json.loads((out / f"iter_{k}" / "manifest.json").read_text())
        estep, mstep = m["estep"], m["mstep"]
        rows = _lines(out / f"iter_{k}" / "estep" / "samples.jsonl")
        keys = [(r["problem_id"], r["sample_index"]) for r in rows]
        assert len(keys) == len(set(keys)) == TRAIN * N  # no sample drawn twice across the kills
        assert estep["rows"] == TRAIN  # one accepted per problem, capped at 1
        assert estep["verifier"] and estep["verifier_version"] and estep["dataset_sha256"]
        assert estep["contamination"]["hits"] == 0 and "counts" in estep["contamination"]
        assert mstep["base_model"] == str(tiny)  # from the BASE model every iteration
        assert Path(mstep["checkpoint"], "model.safetensors").is_file() and mstep["checkpoint_sha256"]
        assert mstep["config"]["max_steps"] == 2 and m["seeds"]["estep_sampling"] == k
        assert set(m["evals"]) == {"heldout-arithmetic-test", "train-arithmetic-train"}
        held = m["evals"]["heldout-arithmetic-test"]["metrics"]
        assert held["pass@k"]["1"]["value"] == pytest.approx(0.5) and held["pass@k"]["1"]["ci95"] is not None
        assert held["maj@k"]["2"]["value"] is not None
        sft = (out / f"iter_{k}" / "estep" / "sft.jsonl").read_text()
        assert "-123456" not in sft and sft.count('"role": "assistant"') == TRAIN
    # iteration 0 is the base model; the fake backend replays its script for every policy
    m0 = json.loads((out / "iter_0" / "manifest.json").read_text())
    assert m0["estep"] is None and m0["evaluated_model"] == str(tiny)
    # the E-step decontaminates against the held-out problems it was told about
    estep_cfg = (it1 / "estep" / "config.toml").read_text()
    assert "heldout-arithmetic-test.jsonl" in estep_cfg
    report = (out / "report.md").read_text()
    assert "heldout-arithmetic-test" in report and "+0.0" in report
    assert "iteration" in res.stdout

    # a finished loop reruns as a no-op; a changed config is refused and nothing is lost
    from verigen.errors import UsageError
    from verigen.loops import RestLoop, build_loop_config
    from verigen.loops._rest_report import write_loop_report

    before = json.loads((out / "loop.json").read_text())
    again = RestLoop(build_loop_config(file=cfg), out).run()
    assert again["iterations"] == before["iterations"]
    with pytest.raises(UsageError, match="another config"):
        RestLoop(build_loop_config(file=cfg, overrides=["rest.max_per_problem=2"]), out).run()
    assert json.loads((out / "loop.json").read_text())["iterations"] == before["iterations"]
    write_loop_report(out, again, plots=True)
    assert (out / "plots" / "rest.png").stat().st_size > 1000 and "plots/rest.png" in (out / "report.md").read_text()


def test_rest_bad_input_exits_2(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "rest", "--task", "nope", "--eval-task", "arithmetic",
                          "--backend", "fake", "--model", "echo", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 2 and "nope" in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("sets", "message"), [
    (["model.backend=openai", "model.name=x/y"], "cannot load a checkpoint"),
    (["rest.from_base=maybe"], "rest.from_base"),
    (["rest.eval_tasks=[]", "rest.eval_train=false"], "nothing to evaluate"),
    (["rest.eval_tasks=[{\"name\": \"arithmetic\", \"split\": \"nosuch\"}]"], "nosuch"),
    (["rest.nope=1"], "unknown config key"),
    (["rest.base_model=/no/such/model"], "not found"),
])
def test_rest_bad_config_is_refused_before_writing(tmp_path: Path, sets: list[str], message: str) -> None:
    from verigen.errors import UsageError
    from verigen.loops import RestLoop, build_loop_config

    base = ["model.backend=fake", "model.name=echo", "rest.eval_tasks=[{\"name\": \"arithmetic\"}]"]
    with pytest.raises(UsageError, match=message):
        RestLoop(build_loop_config(overrides=[*base, *sets]), tmp_path / "o").run()
    assert not (tmp_path / "o").exists()


def test_eval_task_option_is_checked() -> None:
    from verigen.cli_train import _eval_task
    from verigen.errors import UsageError

    assert _eval_task("gsm8k", 5, None) == {"name": "gsm8k", "split": "test", "limit": 5}
    assert _eval_task("arithmetic:train", None, None)["split"] == "train"
    with pytest.raises(UsageError, match="bad --eval-task"):
        _eval_task(":test", None, None)

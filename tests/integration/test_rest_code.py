"""The loop on a code task, the paper's APPS -> HumanEval transfer in miniature: MBPP train
-> HumanEval, fake sampler (reference solution, then a wrong program), programs run in the
bwrap sandbox, a real tiny M-step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.integration._tiny_model import save_tiny_llama
from verigen.task import TaskContext, create_task

pytestmark = pytest.mark.bwrap


def test_rest_loop_on_mbpp_to_humaneval(shared_data: Path, tmp_path: Path) -> None:
    from verigen.sandbox.select import bwrap_unavailable_reason

    reason = bwrap_unavailable_reason()
    if reason is not None:
        skip_or_fail("bwrap", reason)
    tiny = save_tiny_llama(tmp_path / "tiny")
    script: dict[str, list[str]] = {}
    for name, split, limit in (("mbpp", "train", 3), ("humaneval", "test", 2)):
        task = create_task(name, {}, TaskContext(data_dir=shared_data, sandbox="bwrap"))
        for i, p in enumerate(task.problems(split=split, seed=0)):
            if i >= limit:
                break
            script[p.id] = [f"```python\n{task.reference_solution(p)}\n```", "```python\nraise SystemExit(0)\n```"]
    (tmp_path / "script.json").write_text(json.dumps(script))
    from verigen.loops import RestLoop, build_loop_config

    cfg = build_loop_config(overrides=[
        "task.name=mbpp", "task.limit=3", f"task.data_dir={shared_data}", "model.backend=fake",
        f"model.name={tmp_path / 'script.json'}", "sampling.n=2", "sandbox.backend=bwrap",
        "train.max_steps=1", "train.batch_size=2", "train.device=cpu", "train.max_length=512",
        f"rest.base_model={tiny}", "rest.iterations=1", "rest.eval_train=false", "output.report_plots=false",
        f'rest.eval_tasks=[{{"name": "humaneval", "limit": 2, "data_dir": "{shared_data}"}}]',
    ])
    manifest = RestLoop(cfg, tmp_path / "loop").run()
    it1 = manifest["per_iteration"][1]  # type: ignore[index]
    estep = it1["estep"]  # type: ignore[index]
    dropped = sum(c["problems"] for c in estep["contamination"]["counts"].values())
    # every problem had an accepted solution; the ones that overlap a held-out benchmark
    # (an MBPP train problem shares 13-grams with MBPP test) are left out of training
    assert estep["accepted_problems"] == 3 and estep["rows"] == 3 - dropped >= 1, estep
    assert estep["verifier"] == "code.tests"
    assert Path(it1["mstep"]["checkpoint"], "model.safetensors").is_file()  # type: ignore[index]
    held = it1["evals"]["heldout-humaneval-test"]["metrics"]  # type: ignore[index]
    assert held["pass@k"]["1"]["value"] == pytest.approx(0.5)
    assert "maj@k" not in held or not held["maj@k"] or all(v["value"] is None for v in held["maj@k"].values())

    # the same HumanEval problems as reward-function rows: a code verifier as a TRL reward
    from verigen.rewards import VerifierReward, prompt_rows

    rows = prompt_rows(tmp_path / "loop" / "iter_0" / "eval" / "heldout-humaneval-test")
    good = [script[str(r["problem_id"])][0] for r in rows]
    with VerifierReward("humaneval", data_dir=shared_data, sandbox="bwrap", workers=1) as reward:
        completions = [[{"role": "assistant", "content": t}] for t in good] + ["```python\nraise SystemExit(0)\n```"] * len(rows)
        scores = reward(prompts=[r["prompt"] for r in rows] * 2, completions=completions,
                        reference=[r["reference"] for r in rows] * 2, problem_id=[r["problem_id"] for r in rows] * 2)
    assert scores == [1.0] * len(rows) + [0.0] * len(rows)

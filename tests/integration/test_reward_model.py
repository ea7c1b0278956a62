"""Reward models for real on a tiny random Llama: ``verigen train-rm`` on a run's own
ranked-list export (TRL RewardTrainer, pairwise ranking loss), held-out pairwise accuracy on
prompts never trained on, reuse and refusal of a finished folder, and ``evaluate --select rm``
picking with the trained model on a fake-backend run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._tiny_model import require_train_stack, save_tiny_llama
from tests.rundata import S, write_run
from verigen.errors import UsageError
from verigen.export import export_run
from verigen.types import Outcome

REPO = Path(__file__).resolve().parents[2]
TRAIN_SETS = ["--set", "rm.max_steps=24", "--set", "rm.learning_rate=3e-3", "--set", "rm.batch_size=4",
              "--set", "rm.eval_fraction=0.25", "--set", "rm.max_length=128", "--set", "rm.device=cpu"]


def _verigen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verigen.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def trained(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A reward model trained through the CLI on a planted run's rm_ranked.jsonl, in which the
    verified answers say "So the answer is" and the rejected ones never do."""
    root = tmp_path_factory.mktemp("rm")
    samples = []
    for i in range(12):
        texts = [(f"So the answer is \\boxed{{{i + 1}}}.", Outcome.ACCEPTED),
                 (f"Adding one to {i} gives {i + 1}. So the answer is \\boxed{{{i + 1}}}.", Outcome.ACCEPTED),
                 ("\\boxed{0.5}", Outcome.REJECTED), (f"\\boxed{{{i + 4}}}", Outcome.REJECTED)]
        samples += [S(problem=f"p{i}", index=j, text=t, outcome=o) for j, (t, o) in enumerate(texts)]
    run = write_run(root / "run", [(f"p{i}", f"What is {i} + 1?") for i in range(12)], samples,
                    sets=["output.decontam.enabled=false"])
    export_run(run, ["rm"])
    res = _verigen("train-rm", "--data", str(run / "rm_ranked.jsonl"), "--model", str(tiny), "--out", str(root / "rm"),
                   *TRAIN_SETS)
    return run / "rm_ranked.jsonl", root / "rm", res


def test_train_rm_learns_a_separable_preference(trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
                                                tiny: Path) -> None:
    from verigen.train import checkpoint_sha256, file_sha256, read_preferences, split_by_prompt

    data, out, res = trained
    assert res.returncode == 0, res.stderr
    assert "held-out pairwise accuracy" in res.stdout
    m = json.loads((out / "train-rm.json").read_text())
    assert m["pairs"] == 12 * 4  # every ordered (accepted, rejected) pair of each ranked list
    assert m["train"] == {"pairs": 36, "prompts": 9} and m["heldout"]["prompts"] == 3 and m["heldout"]["pairs"] == 12
    assert m["loss_last"] < m["loss_first"] - 0.3, (m["loss_first"], m["loss_last"])
    assert m["heldout"]["accuracy"] >= 0.9, m["heldout"]
    assert m["seed"] == 0 and m["data_sha256"] == file_sha256(data) and m["base_model"] == str(tiny)
    assert m["config"]["bf16"] is None and m["config"]["max_steps"] == 24 and m["device"] == "cpu"
    assert (out / "checkpoint" / "model.safetensors").is_file()
    assert m["checkpoint_sha256"] == checkpoint_sha256(out / "checkpoint")
    # the reported figure is what the saved model gives on the held-out prompts
    from verigen.train import pairwise_accuracy, reward_scores

    _, held = split_by_prompt(read_preferences(data), 0.25, seed=0)
    scores = reward_scores(str(out), [x for p in held for x in ((p.prompt, p.chosen), (p.prompt, p.rejected))])
    assert pairwise_accuracy([s or 0.0 for s in scores[0::2]], [s or 0.0 for s in scores[1::2]]) == m["heldout"]["accuracy"]

    from verigen.cli_train import build_rm_config
    from verigen.train import train_rm

    cfg = build_rm_config(None, TRAIN_SETS[1::2])
    again = train_rm(data, str(tiny), out, cfg)  # finished: not retrained
    assert again.reused and again.manifest == m
    with pytest.raises(UsageError, match="already holds a reward model"):
        train_rm(data, str(tiny), out, cfg.model_copy(update={"seed": 1}))


def test_train_rm_bad_data_is_a_usage_error_naming_the_row(tmp_path: Path) -> None:
    require_train_stack()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n"
                   + json.dumps({"prompt": "q", "chosen": "same", "rejected": "same"}) + "\n")
    res = _verigen("train-rm", "--data", str(bad), "--model", "default", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and f"{bad}:2" in res.stderr and "chosen == rejected" in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()


def test_evaluate_and_generate_select_rm(trained: tuple[Path, Path, subprocess.CompletedProcess[str]], tiny: Path,
                            tmp_path: Path) -> None:
    from verigen.task import TaskContext, create_task

    _, rm, res = trained
    assert res.returncode == 0, res.stderr
    task = create_task("arithmetic", {"difficulty": "1", "count": "3"}, TaskContext())
    script = {p.id: [f"So the answer is \\boxed{{{p.reference.text}}}.", "\\boxed{0.5}", "\\boxed{0.5}"]  # type: ignore[attr-defined]
              for p in task.problems(split="test", seed=0)}
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    base = ["evaluate", "--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=3",
            "--backend", "fake", "--model", str(sf), "-n", "3"]
    ok = _verigen(*base, "--out", str(tmp_path / "run"), "--select", "oracle,majority,rm", "--rm-model", str(rm))
    assert ok.returncode == 0, ok.stderr
    saved = json.loads((tmp_path / "run" / "selection.json").read_text())
    sel = saved["best_of_n@k"]
    assert saved["rm_model"] == str(rm)
    # the RM ranks the one right answer first: it is the pick whenever it is among the k
    assert sel["rm"] == {"1": pytest.approx(1 / 3), "2": pytest.approx(2 / 3), "3": 1.0}
    assert sel["majority"]["3"] == 0.0 and sel["oracle"]["3"] == 1.0
    # generate --select rm keeps the RM's pick of each problem as SFT rows, whatever the index
    train = {p.id: ["\\boxed{0.5}", "\\boxed{0.5}", f"So the answer is \\boxed{{{p.reference.text}}}."]  # type: ignore[attr-defined]
             for p in task.problems(split="train", seed=0)}
    (tmp_path / "train.json").write_text(json.dumps(train))
    gen = _verigen("generate", *base[1:-4], "--model", str(tmp_path / "train.json"), "-n", "3", "--split", "train",
                   "--out", str(tmp_path / "gen"), "--select", "rm", "--rm-model", str(rm))
    assert gen.returncode == 0 and "3 picks (3 of them verified)" in gen.stdout, gen.stderr
    picked = [json.loads(line) for line in (tmp_path / "gen" / "selected.jsonl").read_text().splitlines()]
    assert [r["provenance"]["sample_index"] for r in picked] == [2, 2, 2]
    assert all(r["selection"]["strategy"] == "rm" and isinstance(r["selection"]["score"], float) for r in picked)
    causal = _verigen(*base, "--out", str(tmp_path / "bad"), "--select", "rm", "--scorer-model", str(tiny))
    assert causal.returncode == 2 and "not a sequence-classification model" in causal.stderr, causal.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(("select", "scorer", "rm_model", "message"), [
    ("rm", None, None, "--select rm needs --rm-model"),
    ("likelihood,rm", "default", None, "needs --rm-model"),
    ("oracle", None, "x", "--rm-model is only used with --select rm"),
    ("rm", "a", "b", "--scorer-model is unused"),
    ("rm", None, "/nonexistent/rm", "--rm-model '/nonexistent/rm' is not a reward model"),
])
def test_select_rm_options(select: str, scorer: str | None, rm_model: str | None, message: str) -> None:
    from verigen.cli import _strategies

    with pytest.raises(UsageError, match=message):
        _strategies("evaluate", select, scorer, rm_model)


def test_select_rm_takes_scorer_model_when_alone(trained: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    from verigen.cli import _strategies

    _, rm, _ = trained
    assert _strategies("evaluate", "oracle,rm", str(rm), None) == (("oracle", "rm"), None, str(rm))
    assert _strategies("evaluate", "likelihood,rm", "default", str(rm / "checkpoint")) == (
        ("likelihood", "rm"), "default", str(rm / "checkpoint"))

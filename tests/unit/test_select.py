"""Best-of-N selection (verigen/select.py): exact best-of-n@k against brute force over
k-subsets, oracle = pass@k and majority = maj@k on one pool, and `evaluate --select`."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest

from tests.rundata import S, write_run
from verigen.errors import UsageError
from verigen.metrics import pass_at_k
from verigen.runview import load_run
from verigen.select import best_of_n_at_k, parse_strategies, select_run
from verigen.types import Outcome


def _brute(correct: list[bool], scores: list[float | None], k: int) -> float:
    def rank(i: int) -> tuple[bool, float, int]:
        s = scores[i]
        return (s is None, -(s or 0.0), i)

    picks = [min(subset, key=rank) for subset in combinations(range(len(correct)), k)]
    return sum(correct[i] for i in picks) / len(picks)


@pytest.mark.parametrize("seed", range(12))
def test_best_of_n_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    correct = [rng.random() < 0.4 for _ in range(n)]
    scores: list[float | None] = [rng.choice([None, float(rng.randint(-3, 3))]) for _ in range(n)]  # ties and gaps
    for k in range(1, n + 1):
        assert best_of_n_at_k(correct, scores, k) == pytest.approx(_brute(correct, scores, k))
        oracle = best_of_n_at_k(correct, [1.0 if c else 0.0 for c in correct], k)
        assert oracle == pytest.approx(pass_at_k(n, sum(correct), k))


def test_best_of_n_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k=3"):
        best_of_n_at_k([True, False], [0.0, 1.0], 3)


def test_parse_strategies() -> None:
    assert parse_strategies("oracle, majority") == ("oracle", "majority")
    assert parse_strategies("judge,likelihood") == ("judge", "likelihood")
    with pytest.raises(UsageError, match="'vibes'"):
        parse_strategies("oracle,vibes")


def test_select_run_oracle_is_pass_and_majority_is_maj(tmp_path: Path) -> None:
    samples = []
    for p, answers in enumerate((["4", "5", "5", "4"], ["7", "7", "1", None], ["2", "3", "3", "3"])):
        gold = answers[0]
        for i, a in enumerate(answers):
            outcome = Outcome.NO_ANSWER if a is None else Outcome.ACCEPTED if a == gold else Outcome.REJECTED
            samples.append(S(problem=f"p{p}", index=i, text=f"answer {a}", outcome=outcome, answer=a))
    samples.append(S(problem="p2", index=4, text="crash", outcome=Outcome.ERROR))  # never a candidate
    run_dir = write_run(tmp_path / "run", [(f"p{i}", f"q{i}") for i in range(3)], samples, n=5)
    report = select_run(load_run(run_dir), ["oracle", "majority"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    curves = {c.strategy: c.at_k for c in report.curves}
    for k in (1, 2, 4):
        assert curves["oracle"][k] == pytest.approx(metrics["pass@k"][str(k)]["value"])
        assert curves["majority"][k] == pytest.approx(metrics["maj@k"][str(k)]["value"])
    saved = json.loads((run_dir / "selection.json").read_text())
    assert set(saved["best_of_n@k"]) == {"oracle", "majority"}
    with pytest.raises(UsageError, match="--scorer-model"):
        select_run(load_run(run_dir), ["likelihood"])


def _verigen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verigen.cli", *args], capture_output=True, text=True, timeout=120)


def test_evaluate_select_cli(tmp_path: Path) -> None:
    from verigen.task import TaskContext, create_task

    task = create_task("arithmetic", {"difficulty": "1", "count": "3"}, TaskContext())
    script = {}
    for p in task.problems(split="test", seed=0):
        gold = p.reference.text  # type: ignore[attr-defined]
        script[p.id] = [f"So the answer is \\boxed{{{gold}}}.", "\\boxed{0.5}", "\\boxed{0.5}"]
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    base = ["evaluate", "--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=3",
            "--backend", "fake", "--model", str(sf), "-n", "3"]
    res = _verigen(*base, "--out", str(tmp_path / "run"), "--select", "oracle,majority")
    assert res.returncode == 0, res.stderr
    assert "best-of-n@1" in res.stdout
    sel = json.loads((tmp_path / "run" / "selection.json").read_text())["best_of_n@k"]
    assert sel["oracle"]["1"] == pytest.approx(1 / 3) and sel["oracle"]["2"] == pytest.approx(2 / 3)
    # two wrong "0.5" votes outvote the right answer among all three; a tie goes to the first seen
    assert sel["majority"] == {"1": pytest.approx(1 / 3), "2": pytest.approx(2 / 3), "3": 0.0}
    assert sel["oracle"]["3"] == 1.0
    md = (tmp_path / "run" / "report.md").read_text()  # the report is rewritten with the curves
    assert "## Best-of-N by strategy (selection.json)" in md
    assert "| majority | 0.333 | 0.667 | 0.000 |" in md and "| oracle | 0.333 | 0.667 | 1.000 |" in md
    assert "(plots/best_of_n.png)" in md and (tmp_path / "run" / "plots" / "best_of_n.png").stat().st_size > 5000
    from verigen.report import _tables, run_stats
    from verigen.runview import load_run

    tables = {t["title"]: t for t in _tables(run_stats(load_run(tmp_path / "run")))}  # report.html's tables
    assert tables["Best-of-N by strategy (selection.json)"]["rows"][1] == ["majority", "0.333", "0.667", "0.000"]
    bad = _verigen(*base, "--out", str(tmp_path / "bad"), "--select", "vibes")
    assert bad.returncode == 2 and "'vibes'" in bad.stderr and not (tmp_path / "bad").exists()
    train = {p.id: [f"So the answer is \\boxed{{{p.reference.text}}}.", "\\boxed{0.5}", "\\boxed{0.5}"]  # type: ignore[attr-defined]
             for p in task.problems(split="train", seed=0)}
    (tmp_path / "train.json").write_text(json.dumps(train))
    gen_base = [*base[1:-4], "--model", str(tmp_path / "train.json"), "-n", "3", "--split", "train"]
    gen = _verigen("generate", *gen_base, "--out", str(tmp_path / "gen"), "--select", "majority")
    assert gen.returncode == 0 and "3 picks (0 of them verified)" in gen.stdout, gen.stderr
    picked = [json.loads(line) for line in (tmp_path / "gen" / "selected.jsonl").read_text().splitlines()]
    assert [r["messages"][-1]["content"] for r in picked] == ["\\boxed{0.5}"] * 3  # the majority, not the verdict
    assert [r["provenance"]["sample_index"] for r in picked] == [1, 1, 1]
    assert picked[0]["selection"] == {"strategy": "majority", "score": 2.0}
    two = _verigen("generate", *base[1:], "--out", str(tmp_path / "gen2"), "--select", "oracle,majority")
    assert two.returncode == 2 and "give one" in two.stderr

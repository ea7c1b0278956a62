"""The LLM judge (verigen/judge.py): strict score parsing, AUC and agreement against hand
computations, preference pairs, scripted judging through the fake sampler, and
`evaluate --select judge` end to end with a scripted judge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rundata import S, write_run
from verigen.errors import UsageError
from verigen.judge import (
    JudgeConfig,
    JudgeItem,
    Judgement,
    JudgeScore,
    agreement,
    judge_prompt,
    judge_responses,
    parse_score,
    preference_pair,
    roc_auc,
)
from verigen.runview import load_run
from verigen.sampling.fake import FakeSampler
from verigen.select import JudgeSetup, select_run
from verigen.types import Outcome

PARSE_CASES = [
    # (judge reply, score or None, reason fragment)
    ("The response is relevant and correct.\nScore: 4", 4, ""),
    ("Reasoning...\n\nScore: 0\n", 0, ""),
    ("**Score:** 5", 5, ""),
    ("Score: 3/5.", 3, ""),
    ("score = 2", 2, ""),
    ("It earns 3 points.\nScore: 3\n\nScore: 3", 3, ""),  # the same score twice is one score
    ("", None, "no final"),
    ("I would give it 4 out of 5.", None, "no final"),
    ("Score: 4\nThat is my verdict.", None, "no final"),  # the score line is not the last one
    ("Score: 7", None, "not an integer from 0 to 5"),
    ("Score: -1", None, "not an integer from 0 to 5"),
    ("Score: 4.5", None, "not an integer from 0 to 5"),
    ("Score: 2\nOn reflection:\nScore: 4", None, "several different scores (2, 4)"),
    ("Score: four", None, "no final"),
]


@pytest.mark.parametrize(("text", "score", "reason"), PARSE_CASES)
def test_parse_score(text: str, score: int | None, reason: str) -> None:
    j = parse_score(text)
    assert j.score == score
    assert reason in j.reason and (j.reason == "") == (score is not None)


def test_prompt_holds_the_pair_and_the_rubric() -> None:
    text = judge_prompt("What is 2+2?", "It is 4.")
    assert "What is 2+2?" in text and "It is 4." in text
    assert text.rstrip().endswith("Score: N") and text.count("point") >= 5
    assert "[... response cut here ...]" in judge_prompt("q", "x" * 10_000)


def test_roc_auc_hand_computed() -> None:
    # positives 5, 4, 1; negatives 4, 2: (5>4) + (5>2) + (4=4: 1/2) + (4>2) + 0 + 0 = 3.5 of 6 pairs
    assert roc_auc([5, 4, 4, 2, 1], [True, False, True, False, True]) == pytest.approx(3.5 / 6)
    assert roc_auc([1, 2], [False, True]) == 1.0 and roc_auc([1, 2], [True, False]) == 0.0
    assert roc_auc([3, 3], [True, False]) == 0.5
    assert roc_auc([1, 2], [True, True]) is None
    with pytest.raises(ValueError):
        roc_auc([1.0], [True, False])


def _score(*values: int | None) -> JudgeScore:
    return JudgeScore(key="p", index=0, judgements=tuple(
        Judgement(text="", score=v, reason="" if v is not None else "no final 'Score: <0-5>' line") for v in values))


def test_agreement_counts_unparseable_and_never_scores_them_zero() -> None:
    scores = [_score(5), _score(None), _score(2, None), _score(None, None), _score(4, 2)]
    a = agreement(scores, [True, False, False, True, False], threshold=3)
    # scored: 5 (T), 2 (F), 3.0 = mean of 4 and 2 (F); unscored samples are left out, not 0
    assert (a.samples, a.scored, a.unparseable_samples) == (5, 3, 2)
    assert (a.judgements, a.unparseable_judgements) == (8, 4)
    assert a.reasons == {"no final 'Score: <0-5>' line": 4}
    assert (a.positives, a.negatives) == (1, 2)
    assert a.accuracy == pytest.approx(2 / 3)  # 3.0 >= 3 predicts "accepted" for a rejected one
    assert a.auc == 1.0
    assert a.mean_score_accepted == 5.0 and a.mean_score_rejected == pytest.approx(2.5)
    empty = agreement([_score(None)], [True])
    assert empty.accuracy is None and empty.auc is None and empty.unparseable_samples == 1


def test_preference_pair_highest_vs_lowest_ties_dropped() -> None:
    assert preference_pair([2.0, 5.0, None, 1.0, 5.0]) == (1, 3)
    assert preference_pair([3.0, 3.0, None]) is None  # all tied
    assert preference_pair([None, 4.0]) is None  # one score: no pair
    assert preference_pair([]) is None


def test_judge_responses_through_the_fake_sampler(tmp_path: Path) -> None:
    script = tmp_path / "judge.json"
    script.write_text(json.dumps({"judge/p0": ["ok\nScore: 5", "meh\nScore: 1", "no idea"],
                                  "judge/p1": ["Score: 9", "Score: 2"]}))
    sampler = FakeSampler(str(script))
    items = [JudgeItem(key="p0", index=i, instruction="q0", response=f"r{i}") for i in range(3)]
    items.append(JudgeItem(key="p1", index=0, instruction="q1", response="r"))
    got = judge_responses(sampler, items)
    assert [s.score for s in got] == [5.0, 1.0, None, None]
    assert got[3].judgements[0].reason.startswith("score 9")
    # two judgements each: indices 2i and 2i+1 of judge/p1 -> "Score: 9" (unparseable) and "Score: 2"
    twice = judge_responses(sampler, [JudgeItem(key="p1", index=0, instruction="q", response="r")],
                            JudgeConfig(samples=2))
    assert twice[0].score == 2.0 and twice[0].unparseable == 1
    with pytest.raises(UsageError, match="samples"):
        JudgeConfig(samples=0)


def test_select_run_judge_needs_a_judge(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", [("p0", "q0")], [S(problem="p0", index=0, text="a", outcome=Outcome.ACCEPTED)])
    with pytest.raises(UsageError, match="judge model"):
        select_run(load_run(run_dir), ["judge"])
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"*": ["Score: 4"]}))
    report = select_run(load_run(run_dir), ["judge"], judge=JudgeSetup(sampler=FakeSampler(str(script))))
    assert report.curves[0].at_k == {1: 1.0}
    assert report.judge_agreement is not None and report.judge_agreement.auc is None  # no negatives


def _verigen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verigen.cli", *args], capture_output=True, text=True, timeout=120)


def test_evaluate_select_judge_cli(tmp_path: Path) -> None:
    from verigen.task import TaskContext, create_task

    task = create_task("arithmetic", {"difficulty": "1", "count": "3"}, TaskContext())
    ids = [p.id for p in task.problems(split="test", seed=0)]
    golds = [p.reference.text for p in task.problems(split="test", seed=0)]  # type: ignore[attr-defined]
    judge = [["Score: 5", "Score: 2", "no score here"],
             ["Score: 1", "**Score:** 4", "Score: 3\nScore: 4"],
             ["Score: 3", "Score: 2", "Score: 9"]]
    script: dict[str, list[str]] = {}
    for pid, gold, replies in zip(ids, golds, judge, strict=True):
        script[pid] = [f"So the answer is \\boxed{{{gold}}}.", "\\boxed{0.5}", "\\boxed{0.25}"]
        script[f"judge/{pid}"] = replies
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    base = ["evaluate", "--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=3",
            "--backend", "fake", "--model", str(sf), "-n", "3"]
    res = _verigen(*base, "--out", str(tmp_path / "run"), "--select", "oracle,judge")
    assert res.returncode == 0, res.stderr
    assert "Judge vs verifier" in res.stdout and "3/9" in res.stdout
    sel = json.loads((tmp_path / "run" / "selection.json").read_text())
    j = sel["best_of_n@k"]["judge"]
    # per problem (correct = [T, F, F]): judge @2 = 2/3, 1/3, 2/3; @3 picks T, F, T
    assert j == {"1": pytest.approx(1 / 3), "2": pytest.approx(5 / 9), "3": pytest.approx(2 / 3)}
    a = sel["judge"]["agreement"]
    assert (a["scored"], a["unparseable_judgements"], a["positives"], a["negatives"]) == (6, 3, 3, 3)
    assert a["accuracy"] == pytest.approx(4 / 6)  # p1's two judgements are wrong both ways
    assert a["auc"] == pytest.approx(5 / 9)  # positives 5, 1, 3 against negatives 2, 4, 2
    assert len(a["unparseable_reasons"]) == 3
    assert sel["judge"]["config"]["threshold"] == 3.0
    md = (tmp_path / "run" / "report.md").read_text()
    assert "| judge | 0.333 | 0.556 | 0.667 |" in md
    assert "- judge vs verifier: accuracy 0.667, AUC 0.556, unparseable judgements 3/9" in md
    rows = [json.loads(line) for line in (tmp_path / "run" / "judge.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and rows[2]["score"] is None and rows[2]["judgements"][0]["text"] == "no score here"
    bad = _verigen(*base, "--out", str(tmp_path / "bad"), "--select", "oracle", "--judge-threshold", "4")
    assert bad.returncode == 2 and "--select judge" in bad.stderr and not (tmp_path / "bad").exists()


def test_open_judge_is_the_run_model_unless_named(tmp_path: Path) -> None:
    from verigen.config import ModelConfig
    from verigen.judge import open_judge

    own, other = tmp_path / "own.json", tmp_path / "other.json"
    own.write_text(json.dumps({"*": ["Score: 1"]}))
    other.write_text(json.dumps({"*": ["Score: 4"]}))
    cfg = ModelConfig(backend="fake", name=str(own))
    item = [JudgeItem(key="p", index=0, instruction="q", response="r")]
    assert judge_responses(open_judge(cfg), item)[0].score == 1.0
    named = open_judge(cfg, str(other))
    assert named.model_id == f"fake:{other}" and judge_responses(named, item)[0].score == 4.0
    with pytest.raises(UsageError, match="not a script file"):
        open_judge(cfg, str(tmp_path / "missing.json"))


def test_generate_select_judge_keeps_the_judges_pick_above_its_threshold(tmp_path: Path) -> None:
    from verigen.task import TaskContext, create_task

    task = create_task("arithmetic", {"difficulty": "1", "count": "3"}, TaskContext())
    problems = list(task.problems(split="train", seed=0))
    judge = [["Score: 5", "Score: 2", "no score here"],  # pick 0 (5)
             ["Score: 1", "Score: 4", "Score: 3\nScore: 4"],  # pick 1 (4)
             ["Score: 3", "Score: 2", "Score: 9"]]  # best is 3: under the threshold of 4, no pick
    script: dict[str, list[str]] = {}
    for p, replies in zip(problems, judge, strict=True):
        script[p.id] = [f"So the answer is \\boxed{{{p.reference.text}}}.", "\\boxed{0.5}", "\\boxed{0.25}"]  # type: ignore[attr-defined]
        script[f"judge/{p.id}"] = replies
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script))
    res = _verigen("generate", "--task", "arithmetic", "--task-arg", "difficulty=1", "--task-arg", "count=3",
                   "--split", "train", "--backend", "fake", "--model", str(sf), "-n", "3",
                   "--out", str(tmp_path / "gen"), "--select", "judge", "--judge-threshold", "4")
    assert res.returncode == 0, res.stderr
    assert "2 picks (1 of them verified)" in res.stdout
    picked = [json.loads(line) for line in (tmp_path / "gen" / "selected.jsonl").read_text().splitlines()]
    by_problem = {r["provenance"]["problem_id"]: r for r in picked}
    assert set(by_problem) == {problems[0].id, problems[1].id}
    assert by_problem[problems[0].id]["provenance"]["sample_index"] == 0
    assert by_problem[problems[0].id]["selection"] == {"strategy": "judge", "score": 5.0}
    assert by_problem[problems[1].id]["provenance"]["sample_index"] == 1
    assert by_problem[problems[1].id]["selection"] == {"strategy": "judge", "score": 4.0}
    rows = [json.loads(line) for line in (tmp_path / "gen" / "judge.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and sum(r["score"] is None for r in rows) == 3

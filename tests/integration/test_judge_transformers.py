"""The judge through the real transformers backend (the tiny random Llama: the model is not
the point): every judgement comes back under its own key (request judge/<problem>, index
= sample index, or index * samples + j for several judgements), and each is an integer
score from 0 to 5 or unparseable with a reason, never a silent 0."""

from __future__ import annotations

from pathlib import Path

from tests.integration._tiny_model import save_tiny_llama


def test_judge_through_the_transformers_backend(tmp_path: Path) -> None:
    tiny = save_tiny_llama(tmp_path / "tiny")
    from verigen.config import ModelConfig
    from verigen.judge import JudgeConfig, JudgeItem, judge_responses, open_judge

    sampler = open_judge(ModelConfig(backend="transformers", name="default", device="cpu"), str(tiny))
    items = [JudgeItem(key="p0", index=0, instruction="What is 2 + 3?", response="2 + 3 = 5. The answer is 5."),
             JudgeItem(key="p0", index=1, instruction="What is 2 + 3?", response="Bananas are yellow."),
             JudgeItem(key="p1", index=0, instruction="What is 1 + 1?", response="2")]
    try:
        greedy = judge_responses(sampler, items, JudgeConfig(max_tokens=8))
        sampled = judge_responses(sampler, items, JudgeConfig(samples=2, temperature=1.0, max_tokens=8, seed=3))
        again = judge_responses(sampler, items, JudgeConfig(samples=2, temperature=1.0, max_tokens=8, seed=3))
    finally:
        sampler.close()
    assert [(s.key, s.index, len(s.judgements)) for s in greedy] == [("p0", 0, 1), ("p0", 1, 1), ("p1", 0, 1)]
    assert [len(s.judgements) for s in sampled] == [2, 2, 2]
    assert [[j.text for j in s.judgements] for s in sampled] == [[j.text for j in s.judgements] for s in again]
    for s in (*greedy, *sampled):
        for j in s.judgements:
            assert (j.score is not None and 0 <= j.score <= 5 and not j.reason) or (j.score is None and j.reason)
        assert s.score is None or 0 <= s.score <= 5

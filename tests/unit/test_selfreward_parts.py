"""Parts of the self-rewarding loop that need no model: seed prompts (file and task),
the cleaning of a written prompt, and the config's one-source rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verigen.errors import UsageError
from verigen.loops._selfreward import clean_prompt, writing_prompt
from verigen.loops._selfreward_config import build_selfreward_config, seed_prompts


@pytest.mark.parametrize(("reply", "prompt"), [
    ("Task 4: What is 2 + 2?", "What is 2 + 2?"),
    ("**Task 4:** Name a prime.\n\nTask 5: Another.", "Name a prime."),
    ("  Instruction: Sort [3, 1, 2].  ", "Sort [3, 1, 2]."),
    ("Explain recursion.\nQuestion 2: more", "Explain recursion."),
    ("Task 4:", ""),
])
def test_clean_prompt(reply: str, prompt: str) -> None:
    assert clean_prompt(reply) == prompt


def test_writing_prompt_numbers_the_examples() -> None:
    text = writing_prompt(["a?", "b?"])
    assert "Task 1: a?" in text and "Task 2: b?" in text and text.rstrip().endswith("Task 3: <the task>")


def test_seed_prompts_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "seeds.jsonl"
    rows = [{"prompt": "one"}, {"instruction": "two"}, {"prompt": "one"},
            {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "three"}]}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = build_selfreward_config(overrides=[f"selfreward.prompts_file={f}"])
    assert seed_prompts(cfg.selfreward) == ["one", "two", "three"]
    limited = build_selfreward_config(overrides=[f"selfreward.prompts_file={f}", "selfreward.seed_limit=2"])
    assert seed_prompts(limited.selfreward) == ["one", "two"]
    f.write_text(json.dumps({"text": "no known key"}) + "\n")
    with pytest.raises(UsageError, match=r"seeds.jsonl:1"):
        seed_prompts(cfg.selfreward)


def test_seed_prompts_from_a_task() -> None:
    cfg = build_selfreward_config(overrides=["selfreward.task=arithmetic", "selfreward.seed_limit=3"])
    got = seed_prompts(cfg.selfreward)
    assert len(got) == 3 and all(isinstance(p, str) and p for p in got)


def test_exactly_one_seed_source() -> None:
    with pytest.raises(UsageError, match="exactly one seed-prompt source"):
        build_selfreward_config(overrides=[])
    with pytest.raises(UsageError, match="exactly one seed-prompt source"):
        build_selfreward_config(overrides=["selfreward.task=arithmetic", "selfreward.prompts_file=x.jsonl"])

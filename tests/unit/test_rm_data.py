"""Preference data for reward-model training: the export row shapes read as the same pairs,
a ranked list expanded to every ordered pair, the held-out split by prompt, and bad rows
named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.rundata import S, write_run
from verigen.errors import UsageError
from verigen.export import export_run
from verigen.train import read_preferences, split_by_prompt
from verigen.types import ChatMessage, Outcome

SYSTEM = {"role": "system", "content": "Be brief."}
USER = {"role": "user", "content": "What is 2 + 2?"}


def _write(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def test_rm_dpo_and_string_rows_read_as_the_same_pair(tmp_path: Path) -> None:
    rm = {"chosen": [SYSTEM, USER, _a("4")], "rejected": [SYSTEM, USER, _a("5")]}
    dpo = {"prompt": [SYSTEM, USER], "chosen": [_a("4")], "rejected": [_a("5")]}
    plain = {"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5"}
    pairs = read_preferences(_write(tmp_path / "p.jsonl", rm, dpo, plain))
    assert [(p.chosen, p.rejected) for p in pairs] == [("4", "5")] * 3
    assert pairs[0].prompt == pairs[1].prompt == (ChatMessage(role="system", content="Be brief."),
                                                  ChatMessage(role="user", content="What is 2 + 2?"))
    assert pairs[2].prompt == (ChatMessage(role="user", content="What is 2 + 2?"),)
    assert pairs[1].source == f"{tmp_path / 'p.jsonl'}:2"


def test_a_ranked_list_gives_every_ordered_pair(tmp_path: Path) -> None:
    graded = {"prompt": [USER], "completions": [[_a("a")], [_a("b")], [_a("c")]], "labels": [0.0, 2.0, 1.0]}
    binary = {"prompt": "q", "completions": ["g1", "g2", "b1", "b2", "b3"], "labels": [1, 1, 0, 0, 0]}
    pairs = read_preferences(_write(tmp_path / "r.jsonl", graded, binary))
    assert {(p.chosen, p.rejected) for p in pairs[:3]} == {("b", "a"), ("b", "c"), ("c", "a")}  # C(3, 2)
    assert len(pairs) == 3 + 2 * 3 and {(p.chosen, p.rejected) for p in pairs[3:]} == {
        (g, b) for g in ("g1", "g2") for b in ("b1", "b2", "b3")}  # equal labels make no pair


def test_verigen_exports_feed_train_rm(tmp_path: Path) -> None:
    """rm.jsonl and rm_ranked.jsonl of one run: verified = chosen, rejected = rejected."""
    samples = [S(problem=f"p{i}", index=j, text=t, outcome=o) for i in range(2) for j, (t, o) in enumerate(
        [(f"right {i}", Outcome.ACCEPTED), (f"also right {i}", Outcome.ACCEPTED), (f"wrong {i}", Outcome.REJECTED)])]
    run = write_run(tmp_path / "run", [("p0", "q0"), ("p1", "q1")], samples,
                    sets=["output.decontam.enabled=false", "output.pairs.pairing=all"])
    export_run(run, ["rm"])
    flat = read_preferences(run / "rm.jsonl")
    ranked = read_preferences(run / "rm_ranked.jsonl")
    key = {(p.prompt_key, p.chosen, p.rejected) for p in flat}
    assert key == {(p.prompt_key, p.chosen, p.rejected) for p in ranked} and len(key) == 4
    assert all(p.chosen.startswith(("right", "also")) and p.rejected.startswith("wrong") for p in flat)


def test_split_by_prompt_keeps_each_prompt_on_one_side(tmp_path: Path) -> None:
    rows = [{"prompt": f"q{i}", "chosen": f"good {i} {j}", "rejected": f"bad {i}"} for i in range(10) for j in range(3)]
    pairs = read_preferences(_write(tmp_path / "p.jsonl", *rows))
    train, held = split_by_prompt(pairs, 0.2, seed=0)
    assert len({p.prompt_key for p in held}) == 2 and len(held) == 6 and len(train) == 24
    assert not {p.prompt_key for p in held} & {p.prompt_key for p in train}
    assert split_by_prompt(pairs, 0.2, seed=0) == (train, held)
    assert {p.prompt_key for p in split_by_prompt(pairs, 0.2, seed=1)[1]} != {p.prompt_key for p in held}
    assert split_by_prompt(pairs, 0.0, seed=0) == (pairs, [])
    with pytest.raises(UsageError, match="at least 2 distinct prompts"):
        split_by_prompt(pairs[:3], 0.2, seed=0)


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "q", "chosen": "a"}, "missing column 'rejected'"),
    ({"text": "q"}, "missing column 'chosen'"),
    ({"prompt": "q", "chosen": "same", "rejected": "same"}, "chosen == rejected"),
    ({"chosen": [USER, _a("x")], "rejected": [USER, _a("x")]}, "chosen == rejected"),
    ({"chosen": [USER, _a("x")], "rejected": [SYSTEM, USER, _a("y")]}, "same prompt"),
    ({"chosen": [_a("x")], "rejected": [_a("y")]}, "no prompt"),
    ({"chosen": [USER, USER], "rejected": [USER, _a("y")]}, "must be the assistant"),
    ({"prompt": "q", "chosen": [{"role": "user"}], "rejected": "y"}, "bad message"),
    ({"prompt": "q", "completions": ["a", "b"], "labels": [1, 1]}, "different labels"),
    ({"prompt": "q", "completions": ["a", "b"], "labels": [1]}, "same length"),
    ({"prompt": "q", "completions": ["a", "a"], "labels": [1, 0]}, "two different labels"),
    ({"completions": ["a", "b"], "labels": [1, 0]}, "needs 'prompt'"),
])
def test_bad_rows_name_the_line(tmp_path: Path, row: dict[str, object], message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", {"prompt": "q", "chosen": "a", "rejected": "b"}, row)
    with pytest.raises(UsageError, match=message) as info:
        read_preferences(path)
    assert f"{path}:2" in str(info.value)


def test_empty_or_missing_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(UsageError, match="no preference pairs"):
        read_preferences(tmp_path / "empty.jsonl")
    with pytest.raises(UsageError, match="not a file"):
        read_preferences(tmp_path / "nope.jsonl")

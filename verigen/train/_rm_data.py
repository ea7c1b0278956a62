"""Preference data for reward-model training: rows of verigen's exports as (prompt, chosen,
rejected) pairs, and the held-out split by prompt.

Row shapes read (each line may be any of them; see verigen/export/_rows.py):

- ``rm`` (TRL implicit prompt): ``{"chosen": [...prompt, assistant], "rejected": [...prompt, assistant]}``;
- ``dpo`` (TRL explicit prompt): ``{"prompt": [...], "chosen": [assistant], "rejected": [assistant]}``;
- ``rm_ranked`` (a ranked list): ``{"prompt": [...], "completions": [[assistant], ...], "labels": [...]}``,
  expanded to every ordered pair (i, j) with ``labels[i] > labels[j]``, as InstructGPT trains
  on all C(K, 2) comparisons of K ranked responses;
- the same with plain strings: a string prompt is one user message, a string response the
  assistant's answer.

A bad row (a missing column, a malformed message, chosen == rejected, a ranked list with no
two different labels) is a ``UsageError`` naming its file and line.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.types import ChatMessage, JSONValue, Role

_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferencePair:
    """One comparison: under ``prompt``, ``chosen`` is the better response."""

    prompt: tuple[ChatMessage, ...]
    chosen: str
    rejected: str
    source: str  # "FILE:LINE" of the row it came from

    @property
    def prompt_key(self) -> str:
        return prompt_key(self.prompt)


def prompt_key(prompt: Sequence[ChatMessage]) -> str:
    return json.dumps([m.to_json() for m in prompt], ensure_ascii=False, sort_keys=True)


def _messages(value: JSONValue, where: str, column: str) -> list[ChatMessage]:
    if isinstance(value, str):
        return [ChatMessage(role="user" if column == "prompt" else "assistant", content=value)]
    if not isinstance(value, list) or not value:
        raise UsageError(f"{where}: {column!r} must be a non-empty list of chat messages or a string")
    out = []
    for m in value:
        if not (isinstance(m, dict) and m.get("role") in _ROLES and isinstance(m.get("content"), str)):
            raise UsageError(f"{where}: bad message in {column!r}: {m!r} (needs 'role' in {_ROLES} and string 'content')")
        out.append(ChatMessage(role=cast(Role, m["role"]), content=cast(str, m["content"])))
    return out


def _response(msgs: list[ChatMessage], where: str, column: str) -> str:
    if msgs[-1].role != "assistant":
        raise UsageError(f"{where}: the last message of {column!r} must be the assistant's, not {msgs[-1].role!r}")
    return msgs[-1].content


def _pair_row(row: dict[str, JSONValue], where: str) -> PreferencePair:
    chosen = _messages(row["chosen"], where, "chosen")
    rejected = _messages(row["rejected"], where, "rejected")
    if "prompt" in row:
        prompt = _messages(row["prompt"], where, "prompt")
        if len(chosen) != 1 or len(rejected) != 1:
            raise UsageError(f"{where}: with an explicit 'prompt', 'chosen' and 'rejected' hold one assistant message each")
    else:
        prompt = chosen[:-1]
        if rejected[:-1] != prompt:
            raise UsageError(f"{where}: 'chosen' and 'rejected' must share the same prompt messages")
        if not prompt:
            raise UsageError(f"{where}: no prompt: 'chosen' needs the prompt messages before the answer (or give 'prompt')")
    pair = PreferencePair(prompt=tuple(prompt), chosen=_response(chosen, where, "chosen"),
                          rejected=_response(rejected, where, "rejected"), source=where)
    if pair.chosen == pair.rejected:
        raise UsageError(f"{where}: chosen == rejected (the same response on both sides teaches nothing)")
    return pair


def _ranked_row(row: dict[str, JSONValue], where: str) -> list[PreferencePair]:
    prompt = tuple(_messages(row["prompt"], where, "prompt"))
    completions, labels = row["completions"], row.get("labels")
    if not isinstance(completions, list) or not isinstance(labels, list) or len(labels) != len(completions):
        raise UsageError(f"{where}: a ranked row needs 'completions' and 'labels' lists of the same length")
    texts = [_response(_messages(c, where, "completions"), where, "completions") for c in completions]
    scores: list[float] = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (int, float)):
            raise UsageError(f"{where}: bad label {label!r} (a number: higher is better)")
        scores.append(float(label))
    by_text: dict[str, float] = {}
    for text, score in zip(texts, scores, strict=True):
        if by_text.setdefault(text, score) != score:
            raise UsageError(f"{where}: the same completion carries two different labels")
    out = [PreferencePair(prompt=prompt, chosen=texts[i], rejected=texts[j], source=where)
           for i in range(len(texts)) for j in range(len(texts)) if scores[i] > scores[j]]
    if not out:
        raise UsageError(f"{where}: a ranked row needs at least two completions with different labels")
    return out


def read_preferences(path: Path) -> list[PreferencePair]:
    """Every (prompt, chosen, rejected) comparison of ``path``, in file order."""
    if not path.is_file():
        raise UsageError(f"--data {str(path)!r} is not a file")
    pairs: list[PreferencePair] = []
    for line, row in read_jsonl(path):
        where = f"{path}:{line}"
        if "completions" in row:
            if "prompt" not in row:
                raise UsageError(f"{where}: a ranked row needs 'prompt' beside 'completions'")
            pairs += _ranked_row(row, where)
        elif "chosen" in row and "rejected" in row:
            pairs.append(_pair_row(row, where))
        else:
            missing = [c for c in ("chosen", "rejected") if c not in row]
            raise UsageError(f"{where}: missing column {missing[0]!r} (a preference row has 'chosen' and 'rejected', "
                             "or 'prompt', 'completions' and 'labels')")
    if not pairs:
        raise UsageError(f"--data {str(path)!r} has no preference pairs to train on")
    return pairs


def split_by_prompt(pairs: Sequence[PreferencePair], fraction: float, seed: int
                    ) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held out): ``fraction`` of the distinct prompts, drawn with the seed, and all
    their pairs go to the held-out side, so no prompt is on both sides."""
    if fraction <= 0.0:
        return list(pairs), []
    keys = sorted({p.prompt_key for p in pairs})
    if len(keys) < 2:
        raise UsageError(f"a held-out split by prompt needs at least 2 distinct prompts, the data has {len(keys)}; "
                         "set rm.eval_fraction=0 to train without a held-out accuracy")
    count = min(len(keys) - 1, max(1, round(fraction * len(keys))))
    held = set(random.Random(f"rm-split:{seed}").sample(keys, count))
    return [p for p in pairs if p.prompt_key not in held], [p for p in pairs if p.prompt_key in held]

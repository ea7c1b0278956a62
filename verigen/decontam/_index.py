"""Word n-gram indexes of benchmark items, cached on disk per benchmark file hash.

Text is lowercased and split into runs of letters and digits (punctuation, LaTeX markup and
whitespace never separate two texts that say the same thing). Each n-gram is a 64-bit
BLAKE2b hash. Items shorter than n words are matched whole, as GPT-3's decontamination
does, but only from ``SHORT_MIN_WORDS`` words up: a five-word MATH problem ("Compute
$\\dbinom{8}{4}$.") is not evidence of anything. An n-gram found in more than
``COMMON_ITEMS`` items of one benchmark is boilerplate (code headers, shared puzzle
templates) and is left out of the index. An n-gram found in a few items is credited to the
first of them, so ``min_shared`` above 1 counts per item only approximately.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

INDEX_FORMAT = 1
SHORT_MIN_WORDS = 8
COMMON_ITEMS = 20
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def gram_hash(tokens: Sequence[str]) -> int:
    digest = hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def grams(tokens: Sequence[str], n: int) -> set[int]:
    return {gram_hash(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    item: int  # index into the index's item ids
    shared: int  # n-grams shared with that item (or the item's length for a whole short item)


class NgramIndex:
    """n-gram hash -> benchmark item, plus whole short items keyed by their length."""

    def __init__(self, *, n: int, item_ids: Sequence[str], table: dict[int, int], short: dict[int, dict[int, int]]) -> None:
        self.n = n
        self.item_ids = tuple(item_ids)
        self._table = table
        self._short = short

    @classmethod
    def build(cls, items: Iterable[tuple[str, Sequence[str]]], n: int) -> NgramIndex:
        """``items``: (item id, texts of the item)."""
        ids: list[str] = []
        owner: dict[int, int] = {}
        df: Counter[int] = Counter()
        short: dict[int, dict[int, int]] = {}
        for idx, (item_id, texts) in enumerate(items):
            ids.append(item_id)
            mine: set[int] = set()
            for text in texts:
                toks = words(text)
                if len(toks) >= n:
                    mine |= grams(toks, n)
                elif len(toks) >= SHORT_MIN_WORDS:
                    short.setdefault(len(toks), {}).setdefault(gram_hash(toks), idx)
            for h in mine:
                df[h] += 1
                owner.setdefault(h, idx)
        table = {h: i for h, i in owner.items() if df[h] <= COMMON_ITEMS}
        return cls(n=n, item_ids=ids, table=table, short=short)

    def query(self, text: str, *, min_shared: int) -> Match | None:
        """The benchmark item ``text`` overlaps most, when it shares at least ``min_shared``
        n-grams with it (or contains a whole short item)."""
        toks = words(text)
        counts: Counter[int] = Counter()
        for h in grams(toks, self.n):
            item = self._table.get(h)
            if item is not None:
                counts[item] += 1
        best = counts.most_common(1)
        if best and best[0][1] >= min_shared:
            return Match(item=best[0][0], shared=best[0][1])
        for length, table in self._short.items():
            for i in range(len(toks) - length + 1):
                item = table.get(gram_hash(toks[i : i + length]))
                if item is not None:
                    return Match(item=item, shared=length)
        return None

    def __len__(self) -> int:
        return len(self._table)

    # Cache: a JSON header line, then the table's keys and values as raw int64/int32 arrays.
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = array("q", self._table.keys())
        vals = array("i", self._table.values())
        short = {str(k): [[h, i] for h, i in v.items()] for k, v in self._short.items()}
        header = json.dumps({"format": INDEX_FORMAT, "n": self.n, "ids": self.item_ids, "short": short, "size": len(keys)})
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header.encode("utf-8") + b"\n")
                keys.tofile(fh)
                vals.tofile(fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> NgramIndex | None:
        """The cached index, or None when it is missing, of another format or damaged."""
        try:
            with open(path, "rb") as fh:
                header = json.loads(fh.readline())
                if header.get("format") != INDEX_FORMAT:
                    return None
                size = int(header["size"])
                keys, vals = array("q"), array("i")
                keys.fromfile(fh, size)
                vals.fromfile(fh, size)
        except (OSError, ValueError, KeyError, EOFError):
            return None
        short = {int(k): {int(h): int(i) for h, i in v} for k, v in header["short"].items()}
        return cls(n=int(header["n"]), item_ids=header["ids"], table=dict(zip(keys, vals)), short=short)

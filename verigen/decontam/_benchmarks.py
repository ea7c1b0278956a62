"""Held-out benchmarks known by name, read from the local data folder (``--data-dir``).

Each benchmark names its files (relative to the data folder), how to read its items (id and
the texts that identify it: the problem and its reference solution), and which task splits
ARE that benchmark (training on them is refused) or are drawn from it by design (MATH's
train split is the MATH test set minus MATH-500, so the ``math`` benchmark does not apply
to it). Any other JSONL file can be named by path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.types import JSONValue

Item = tuple[str, tuple[str, ...]]  # (item id, texts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Benchmark:
    name: str
    files: tuple[str, ...]  # relative to the data folder; the first existing one is read (p3: all)
    read: Callable[[Sequence[Path]], Iterator[Item]]
    heldout: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (task, split) that are this benchmark
    drawn_from: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (task, split) built from it


def _texts(row: dict[str, JSONValue], keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in keys if isinstance(row.get(k), str) and row[k])


Ident = Callable[[int, dict[str, JSONValue]], str | None]


def _jsonl_items(keys: Sequence[str], ident: Ident) -> Callable[[Sequence[Path]], Iterator[Item]]:
    def read(paths: Sequence[Path]) -> Iterator[Item]:
        for index, (_, row) in enumerate(read_jsonl(paths[0])):
            item_id = ident(index, row)
            if item_id is not None:
                yield item_id, _texts(row, keys)

    return read


def _mbpp_test(index: int, row: dict[str, JSONValue]) -> str | None:
    tid = row.get("task_id")
    return f"mbpp/{tid}" if isinstance(tid, int) and 11 <= tid <= 510 else None


def _p3_test(paths: Sequence[Path]) -> Iterator[Item]:
    puzzles_path, split_path = paths
    try:
        puzzles = json.loads(puzzles_path.read_text(encoding="utf-8"))
        split = json.loads(split_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"p3 benchmark files unreadable ({exc})") from None
    families = set(split.get("test", [])) if isinstance(split, dict) else set()
    for p in puzzles if isinstance(puzzles, list) else []:
        name = str(p.get("name", ""))
        if name.split(":", 1)[0] in families:
            bodies = p.get("sol_bodies") or []
            yield f"p3/{name}", (str(p.get("sat", "")), *(str(b) for b in bodies))


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            name="gsm8k", files=("gsm8k/test.jsonl", "gsm8k/test.jsonl.gz"),
            read=_jsonl_items(("question", "answer"), lambda i, r: f"gsm8k/test/{i}"),
            heldout=frozenset({("gsm8k", "test")}),
        ),
        Benchmark(
            name="math", files=("math/test.jsonl",),
            read=_jsonl_items(("problem", "solution"), lambda i, r: str(r.get("unique_id") or f"math/test/{i}")),
            heldout=frozenset({("math", "test"), ("math500", "test")}),
            drawn_from=frozenset({("math", "train")}),
        ),
        Benchmark(
            name="math500", files=("math500/test.jsonl",),
            read=_jsonl_items(("problem", "solution"), lambda i, r: str(r.get("unique_id") or f"math500/{i}")),
            heldout=frozenset({("math", "test"), ("math500", "test")}),
        ),
        Benchmark(
            name="humaneval", files=("humaneval/HumanEval.jsonl.gz", "humaneval/HumanEval.jsonl"),
            read=_jsonl_items(("prompt", "canonical_solution"), lambda i, r: str(r.get("task_id") or i)),
            heldout=frozenset({("humaneval", "test")}),
        ),
        Benchmark(
            name="mbpp", files=("mbpp/mbpp.jsonl",),
            read=_jsonl_items(("text", "code"), _mbpp_test),
            heldout=frozenset({("mbpp", "test")}),
        ),
        Benchmark(
            name="p3", files=("p3/puzzles.json", "p3/split.json"), read=_p3_test,
            heldout=frozenset({("p3", "test")}),
        ),
    )
}

# Fields of an arbitrary JSONL row that carry problem or solution text.
_USER_FIELDS = ("prompt", "question", "problem", "text", "instruction", "input", "solution", "answer",
                "code", "canonical_solution", "completion", "response", "output")


def row_texts(row: dict[str, JSONValue]) -> tuple[str, ...]:
    """The texts of a problem or chat row: known text fields and every message's content."""
    texts = list(_texts(row, _USER_FIELDS))
    for key in ("messages", "prompt", "chosen", "rejected"):
        value = row.get(key)
        if isinstance(value, list):
            texts += [str(m["content"]) for m in value if isinstance(m, dict) and isinstance(m.get("content"), str)]
    return tuple(texts)


def row_id(index: int, row: dict[str, JSONValue]) -> str:
    for key in ("id", "task_id", "unique_id", "problem_id", "name"):
        if isinstance(row.get(key), (str, int)):
            return str(row[key])
    return str(index)


def custom(path: Path) -> Benchmark:
    """A user's own held-out file: any JSONL of problems or chat rows."""
    return Benchmark(
        name=str(path),
        files=(str(path),),
        read=lambda paths: ((row_id(i, r), row_texts(r)) for i, (_, r) in enumerate(read_jsonl(paths[0]))),
    )


def resolve(name: str) -> Benchmark:
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    if name.endswith((".jsonl", ".jsonl.gz")):
        return custom(Path(name))
    known = ", ".join(BENCHMARKS)
    raise UsageError(f"unknown benchmark {name!r} (known: {known}; or a path to a .jsonl file)")


def locate(bench: Benchmark, data_dir: Path | None) -> list[Path] | None:
    """The files to read, or None when they are not there."""
    if bench.name not in BENCHMARKS:
        path = Path(bench.files[0])
        return [path] if path.is_file() else None
    if data_dir is None:
        return None
    if bench.name == "p3":
        paths = [data_dir / f for f in bench.files]
        return paths if all(p.is_file() for p in paths) else None
    for rel in bench.files:
        if (data_dir / rel).is_file():
            return [data_dir / rel]
    return None

"""``verigen decontam FILE.jsonl``: the same check for any JSONL of problems or chat rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verigen.decontam import Contamination, DecontamOptions, row_id, row_texts, scan
from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.rundir import atomic_write
from verigen.task import TaskContext


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    clean: Path
    hits: Path
    kept: int
    dropped: int
    contamination: Contamination


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def decontaminate_file(
    path: Path, against: Sequence[str], *, out: Path | None, ngram: int, min_shared: int, data_dir: Path | None
) -> FileResult:
    """Every text of every row is checked (the row's known text fields and each message's
    content); a row with any hit is dropped. Named benchmarks must be found (strict)."""
    rows = list(read_jsonl(path))
    if not rows:
        raise UsageError(f"{str(path)!r} has no rows")
    keys = [f"{row_id(i, r)}#{lineno}" for i, (lineno, r) in enumerate(rows)]
    problems = [(key, text) for key, (_, r) in zip(keys, rows) for text in row_texts(r)]
    opts = DecontamOptions(against=tuple(against), n=ngram, min_shared=min_shared,
                           data_dir=TaskContext.from_env(data_dir).data_dir, strict=True)
    c = scan(problems, [], opts)
    bad = c.dropped_problems
    clean = out or path.with_name(_stem(path) + ".clean.jsonl")
    hits = clean.with_name(_stem(clean) + ".contamination.jsonl")
    if clean.resolve() == path.resolve():
        raise UsageError(f"--out {str(clean)!r} is the input file; choose another path")
    kept = [r for key, (_, r) in zip(keys, rows) if key not in bad]
    atomic_write(clean, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    atomic_write(hits, "".join(json.dumps(h.to_json(), ensure_ascii=False) + "\n" for h in c.hits))
    return FileResult(clean=clean, hits=hits, kept=len(kept), dropped=len(rows) - len(kept), contamination=c)

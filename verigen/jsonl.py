"""Reading JSON-lines input: every bad row is a ``UsageError`` naming file and line."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from verigen.errors import UsageError
from verigen.types import JSONValue


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, JSONValue]]]:
    """(line number, object) for every non-blank line of ``path`` (``.gz`` too)."""
    try:
        fh = gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{str(path)!r}: {exc.strerror or exc}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row

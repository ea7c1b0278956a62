"""Finding and reading benchmark data: a local folder first (``--data-dir`` or
``VERIGEN_DATA_DIR``), the Hugging Face hub through ``datasets`` otherwise."""

from __future__ import annotations

import json
from pathlib import Path

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.task import DATA_DIR_ENV, TaskContext
from verigen.types import JSONValue

__all__ = ["field_str", "find_local", "load_hub", "read_json", "read_jsonl", "require_local"]


def find_local(ctx: TaskContext, *candidates: str) -> Path | None:
    """The first of ``candidates`` (paths relative to the data dir) that exists."""
    if ctx.data_dir is None:
        return None
    if not ctx.data_dir.is_dir():
        raise UsageError(f"data dir {str(ctx.data_dir)!r} is not a directory")
    for rel in candidates:
        path = ctx.data_dir / rel
        if path.is_file():
            return path
    return None


def require_local(ctx: TaskContext, task: str, *candidates: str) -> Path:
    path = find_local(ctx, *candidates)
    if path is None:
        where = str(ctx.data_dir) if ctx.data_dir else f"no --data-dir / {DATA_DIR_ENV} set"
        raise UsageError(
            f"task {task!r}: none of {', '.join(candidates)} found ({where}); "
            "pass --data-dir, set VERIGEN_DATA_DIR, or install the [hub] extra for hub access"
        )
    return path


def read_json(path: Path) -> JSONValue:
    try:
        with open(path, encoding="utf-8") as fh:
            data: JSONValue = json.load(fh)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return data


def field_str(path: Path, lineno: int, row: dict[str, JSONValue], key: str) -> str:
    """``row[key]`` as a string; a missing or non-string field raises naming row and key."""
    value = row.get(key)
    if not isinstance(value, str):
        raise UsageError(
            f"{path}:{lineno}: field {key!r} must be a string, got {type(value).__name__}"
        )
    return value


def load_hub(task: str, name: str, config: str | None, split: str) -> list[dict[str, JSONValue]]:
    """Rows of a hub data set (needs network and the ``datasets`` package)."""
    try:
        import datasets
    except ImportError:
        raise UsageError(
            f"task {task!r}: no local data (set --data-dir or VERIGEN_DATA_DIR) and the "
            "'datasets' package is not installed (pip install 'verigen[hub]')"
        ) from None
    try:
        ds = datasets.load_dataset(name, config, split=split)
    except Exception as exc:
        raise UsageError(f"task {task!r}: could not load {name!r} from the hub: {exc}") from None
    return [dict(row) for row in ds]

"""Reading a user's data file into rows, each with where it came from.

JSON lines (``.jsonl``, ``.ndjson``, ``.gz``) and JSON (a list of objects, or an object of
split name -> list) are read natively. Parquet, CSV/TSV and folders (a ``save_to_disk``
data set, or a folder of data files that ``datasets.load_dataset`` understands) are read
through the ``datasets`` package, imported only here. A source with named splits (a
``DatasetDict``, a JSON object of lists) gives each row its split name.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from verigen.errors import UsageError
from verigen.jsonl import read_jsonl
from verigen.types import JSONValue

_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_DATASETS_BUILDERS = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One raw row: ``where`` names it in errors (``file:line`` or ``file row N``)."""

    where: str
    line: int
    data: dict[str, JSONValue]
    source_split: str | None = None  # the split the source itself puts the row in


def read_rows(path: Path) -> list[Row]:
    """Every row of ``path`` (see the module docstring); bad input raises ``UsageError``."""
    if not path.exists():
        raise UsageError(f"task 'jsonl': path {str(path)!r} does not exist")
    name = path.name.lower()
    if path.is_dir() or path.suffix.lower() in _DATASETS_BUILDERS:
        return _datasets_rows(path)
    if name.endswith(_JSONL_SUFFIXES):
        return [Row(where=f"{path}:{n}", line=n, data=d) for n, d in read_jsonl(path)]
    if name.endswith(".json"):
        return _json_rows(path)
    raise UsageError(
        f"task 'jsonl': cannot read {str(path)!r}: expected .jsonl, .json, .parquet, .csv, .tsv "
        "or a folder of a data set"
    )


def _json_rows(path: Path) -> list[Row]:
    """A JSON document (list, or split -> list), or JSON lines under a ``.json`` name (as
    ``datasets.Dataset.to_json`` writes them)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # more than one document: JSON lines
            return [Row(where=f"{path}:{n}", line=n, data=d) for n, d in read_jsonl(path)]
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(doc, list):
        return [_item(path, i, item, None) for i, item in enumerate(doc, 1)]
    if isinstance(doc, dict) and doc and all(isinstance(v, list) for v in doc.values()):
        return [_item(path, i, item, str(split)) for split, items in doc.items()
                for i, item in enumerate(items, 1)]
    if isinstance(doc, dict):
        return [_item(path, 1, doc, None)]
    raise UsageError(f"{path}: expected a JSON list of objects, got {type(doc).__name__}")


def _item(path: Path, index: int, item: JSONValue, split: str | None) -> Row:
    where = f"{path} [{split}] item {index}" if split else f"{path} item {index}"
    if not isinstance(item, dict):
        raise UsageError(f"{where}: expected a JSON object, got {type(item).__name__}")
    return Row(where=where, line=index, data=item, source_split=split)


def _datasets_rows(path: Path) -> list[Row]:
    try:
        import datasets
    except ImportError:
        raise UsageError(
            f"task 'jsonl': reading {str(path)!r} needs the 'datasets' package "
            "(pip install 'verigen[hub]'); JSON and JSON lines need nothing"
        ) from None
    datasets.disable_progress_bars()  # verigen reports its own progress
    # A private cache: nothing stale from an earlier version of the file, nothing left over.
    with tempfile.TemporaryDirectory(prefix="verigen-jsonl-") as cache:
        try:
            if path.is_dir() and any((path / f).exists() for f in ("dataset_dict.json", "state.json")):
                loaded = datasets.load_from_disk(str(path))
            elif path.is_dir():
                loaded = datasets.load_dataset(str(path), cache_dir=cache)
            else:
                builder = _DATASETS_BUILDERS[path.suffix.lower()]
                extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
                loaded = datasets.load_dataset(builder, data_files=str(path), split="train",
                                               cache_dir=cache, **extra)
        except Exception as exc:  # datasets raises many types for unreadable input
            raise UsageError(f"task 'jsonl': datasets could not read {str(path)!r}: {type(exc).__name__}: {exc}") from None
        parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
        # CSV rows are counted as file lines (the header is line 1).
        first = 2 if path.suffix.lower() in (".csv", ".tsv") else 1
        rows: list[Row] = []
        for split, ds in parts:
            for i, data in enumerate(ds, first):
                where = f"{path}:{i}" if first == 2 else f"{path} [{split}] row {i}" if split else f"{path} row {i}"
                rows.append(Row(where=where, line=i, data=dict(data), source_split=split))
        return rows

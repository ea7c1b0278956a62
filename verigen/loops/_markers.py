"""The per-stage JSON files (markers, manifests) the loops resume from: written atomically,
read back as None when missing or unreadable (the stage then runs again)."""

from __future__ import annotations

import json
from pathlib import Path

from verigen.rundir import atomic_write
from verigen.types import JSONValue


def read_marker(path: Path) -> dict[str, JSONValue] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")

"""The append-only run directory.

Layout: ``config.toml`` (resolved config), ``manifest.json``, ``problems.jsonl``,
``samples.jsonl`` (every sample with verdict and provenance, keyed by
(problem_id, sample_index)), ``metrics.json``, ``sft.jsonl`` and ``report.md``.
``samples.jsonl`` is only ever appended to, flushed and fsynced per batch; a torn last line
from a killed run is cut off on reopen, so a resumed run has neither losses nor duplicates.
Derived files are replaced atomically (write to a temporary file, then rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import tomli_w

from verigen.config import RunConfig, to_toml_dict
from verigen.errors import UsageError
from verigen.records import SampleRecord

CONFIG = "config.toml"
SAMPLES = "samples.jsonl"


def atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide results from other users
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl_atomic(path: Path, rows: Iterable[object]) -> int:
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    atomic_write(path, "".join(line + "\n" for line in lines))
    return len(lines)


# Settings that change how fast a run goes, never what it holds: a resumed run may differ in them.
SPEED_ONLY = frozenset({"verify.workers"})


def _config_diff(old: dict[str, object], new: dict[str, object], prefix: str = "") -> str | None:
    for key in sorted(set(old) | set(new)):
        if f"{prefix}{key}" in SPEED_ONLY:
            continue
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            d = _config_diff(a, b, f"{prefix}{key}.")
            if d:
                return d
        elif a != b:
            return f"{prefix}{key}: {a!r} in the run dir, {b!r} now"
    return None


class RunDir:
    """A run directory opened for a config: fresh, or resumed when the config matches."""

    def __init__(self, path: Path, config: RunConfig) -> None:
        self.path = path
        self.config = config
        self._samples_fh: IO[str] | None = None

    @classmethod
    def check(cls, path: Path, config: RunConfig) -> bool:
        """True when ``path`` holds a run of this same config (resume); raises when it holds
        something else. Reads only: call before anything is written."""
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {str(path)!r} exists and is not a directory")
        cfg = path / CONFIG
        if not cfg.exists():
            if path.exists() and any(path.iterdir()):
                raise UsageError(
                    f"--out {str(path)!r} is not empty and holds no verigen run; choose another --out"
                )
            return False
        import tomllib

        try:
            old = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise UsageError(f"{cfg}: unreadable run config ({exc}); choose another --out") from None
        diff = _config_diff(old, to_toml_dict(config))
        if diff is not None:
            raise UsageError(
                f"--out {str(path)!r} holds a run with another config ({diff}); "
                "choose another --out to keep both"
            )
        return True

    def open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        cfg = self.path / CONFIG
        if not cfg.exists():
            atomic_write(cfg, tomli_w.dumps(to_toml_dict(self.config)))
        self._repair_tail()
        self._samples_fh = open(self.path / SAMPLES, "a", encoding="utf-8")

    def _repair_tail(self) -> None:
        """Cut a torn final line (a killed writer) so appends start on a clean line."""
        path = self.path / SAMPLES
        if not path.exists():
            return
        with open(path, "rb+") as fh:
            data = fh.read()
            if not data or data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            fh.truncate(cut)

    def records(self) -> Iterator[SampleRecord]:
        path = self.path / SAMPLES
        if not path.exists():
            return
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if not line.endswith("\n"):
                    break  # torn tail, repaired on open
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"{path}:{lineno}: corrupt sample row ({exc.msg})") from None
                yield SampleRecord.from_json(row, f"{path}:{lineno}")

    def latest(self) -> dict[tuple[str, int], SampleRecord]:
        """One record per (problem_id, sample_index): the last written wins (a re-verified
        ERROR is appended, never rewritten in place)."""
        return {r.key: r for r in self.records()}

    def append(self, records: Iterable[SampleRecord]) -> int:
        if self._samples_fh is None:
            raise RuntimeError("run dir is not open")
        count = 0
        for rec in records:
            self._samples_fh.write(json.dumps(rec.to_json(), ensure_ascii=False) + "\n")
            count += 1
        if count:
            self._samples_fh.flush()
            os.fsync(self._samples_fh.fileno())
        return count

    def write_json(self, name: str, data: object) -> Path:
        path = self.path / name
        atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return path

    def close(self) -> None:
        if self._samples_fh is not None:
            self._samples_fh.close()
            self._samples_fh = None

"""The files that run inside the sandbox, read as package data.

They live in the repository's ``sandboxes/python`` and are installed as the package
``verigen._sandbox`` (a wheel carries them; an editable install maps the package to the
source tree), so a sandbox starts the same way from a checkout and from an installed wheel.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

from verigen.errors import UsageError

PACKAGE = "verigen._sandbox"
# Trusted programs registered with every runner at start ("load" op), by name.
SHIPPED_PROGRAMS = ("harness",)


def sandbox_dir() -> Path:
    """The directory holding runner.py, the programs, the Dockerfile and build script."""
    try:
        root = resources.files(PACKAGE)
    except ModuleNotFoundError as exc:
        raise UsageError(f"the sandbox files are missing from this install ({PACKAGE}): {exc}") from None
    path = Path(str(root))
    if not (path / "runner.py").is_file():
        raise UsageError(f"the sandbox files are missing from this install: no {path / 'runner.py'}")
    return path


@functools.cache
def runner_source() -> bytes:
    """The runner script's bytes (to copy or bind into a sandbox)."""
    return (sandbox_dir() / "runner.py").read_bytes()


@functools.cache
def program_source(name: str) -> str:
    """A shipped trusted program's source, by name (``harness``)."""
    if name not in SHIPPED_PROGRAMS:
        raise UsageError(f"no shipped sandbox program named {name!r}")
    return (sandbox_dir() / f"{name}.py").read_text(encoding="utf-8")


def shipped_programs() -> dict[str, str]:
    return {name: program_source(name) for name in SHIPPED_PROGRAMS}


@functools.cache
def runner_sha256() -> str:
    return hashlib.sha256(runner_source()).hexdigest()

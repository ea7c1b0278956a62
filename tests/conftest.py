"""Shared fixtures. Backends that are missing skip with a clear reason, unless CI sets
VERIGEN_REQUIRE=docker,bwrap (comma list), which turns those skips into failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def data_dir() -> Path | None:
    env = os.environ.get("VERIGEN_DATA_DIR")
    if env:
        return Path(env)
    return SHARED_DATA if SHARED_DATA.is_dir() else None


def skip_or_fail(part: str, reason: str) -> None:
    """Skip because ``part`` is missing, or fail when CI requires it."""
    required = {p.strip() for p in os.environ.get("VERIGEN_REQUIRE", "").split(",") if p.strip()}
    if part in required:
        pytest.fail(f"{part} is required (VERIGEN_REQUIRE) but unavailable: {reason}")
    pytest.skip(f"{part} unavailable: {reason}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = data_dir()
    if path is None:
        skip_or_fail("data", "no ../shared/data and no VERIGEN_DATA_DIR")
    assert path is not None
    return path

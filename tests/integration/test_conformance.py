"""The conformance suite on every available backend (skips, or fails under VERIGEN_REQUIRE)."""

from __future__ import annotations

import pytest

from tests.conftest import skip_or_fail
from verigen.sandbox.conformance import prepare_conformance_env, run_conformance


@pytest.mark.parametrize("backend", [pytest.param("bwrap", marks=pytest.mark.bwrap),
                                     pytest.param("docker", marks=pytest.mark.docker)])
def test_backend_passes_conformance(backend: str) -> None:
    from verigen.sandbox import select

    probe = select.bwrap_unavailable_reason if backend == "bwrap" else select.docker_unavailable_reason
    reason = probe()
    if reason is not None:
        skip_or_fail(backend, reason)
    prepare_conformance_env()  # before the sandbox starts: its runners inherit nothing
    with select.open_sandbox(backend, workers=2) as sandbox:
        results = run_conformance(sandbox)
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert len(results) >= 12

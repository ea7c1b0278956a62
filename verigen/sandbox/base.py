"""The Sandbox protocol and backend selection."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, runtime_checkable

from verigen.sandbox.types import ExecRequest, ExecResult

# Default runners per CPU core (bwrap and docker): a program that talks to a peer (the
# function-test harness) spends much of its time handing messages between processes, so
# one runner per core leaves the cores idle between hand-offs.
RUNNERS_PER_CORE = 2


@runtime_checkable
class Sandbox(Protocol):
    """Runs untrusted Python programs. Thread-safe: ``run`` may be called concurrently.

    A fault of the sandbox itself is reported as ``ExecStatus.SANDBOX_ERROR``, never as an
    exit of the program.
    """

    name: str

    def run(self, request: ExecRequest) -> ExecResult: ...

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

"""The Verifier protocol: judge one candidate completion of one problem."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from verigen.types import Problem, Verdict


@runtime_checkable
class Verifier(Protocol):
    """Judges completions. ``verify`` may be slow; the pipeline bounds it.

    ``needs_process_isolation``: True for verifiers that evaluate model text in-process
    (SymPy): the pipeline runs them in killable worker processes with ``time_limit_s`` per
    check, and an overrun becomes ``Outcome.TIMEOUT``. An optional ``preload_modules``
    attribute (module names) is imported by each worker before its first check, so slow
    imports never count against a check's time limit. False for verifiers that already run
    the candidate inside a sandbox (code, puzzles): they run on threads in the main process.

    An optional ``cache_key(problem, completion) -> str`` says which completions the
    verifier judges alike (the code verifiers: same extracted program): the pool checks
    each distinct key of a problem once.
    """

    name: str
    version: str
    needs_process_isolation: bool
    time_limit_s: float

    def verify(self, problem: Problem[Any], completion: str) -> Verdict: ...

    def close(self) -> None: ...

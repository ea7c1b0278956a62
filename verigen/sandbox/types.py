"""Records of the sandbox layer: what to run (``ExecRequest``) and what happened
(``ExecResult``). The sandbox knows nothing of tasks or verdicts."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class ExecStatus(str, enum.Enum):
    EXITED = "exited"  # the program ran to its end (any exit code, signals included)
    TIMEOUT = "timeout"  # wall-clock or CPU limit hit
    MEMORY = "memory"  # address-space / cgroup memory limit hit
    OUTPUT_LIMIT = "output_limit"  # stdout+stderr over the limit
    SANDBOX_ERROR = "sandbox_error"  # the sandbox failed: never a verdict on the program


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_output_bytes: int = 1 << 20
    max_processes: int = 64
    max_file_bytes: int = 16 << 20
    cpu_s: float | None = None  # defaults to timeout_s + 1 where None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecPeer:
    """A second program started beside the main one, under the same limits, in a fresh
    process of its own (forked from a state that never held any request data) and
    connected to the main program by a socket: fd 4 in the main program, fd 3 in the peer.
    Its stdout and stderr go to the request's stderr. It lives as long as the main program."""

    code: str = ""
    program: str | None = None  # a trusted program registered with the sandbox, by name
    argv: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _one_source("ExecPeer", self.code, self.program)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecRequest:
    """A Python program to run: ``code`` as the main script (or ``program``, the name of a
    trusted program registered with the sandbox), with ``stdin`` and extra ``files``
    (relative path -> bytes) in its private writable working directory, and optionally a
    ``peer`` program connected to it."""

    code: str = ""
    program: str | None = None
    stdin: bytes = b""
    files: Mapping[str, bytes] = field(default_factory=dict)
    argv: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    peer: ExecPeer | None = None
    # With a ``program`` and a ``peer``: the main program may run in the runner's resident
    # instance of that trusted program (kept between requests, never running candidate
    # code; the peer is always a fresh process). See sandboxes/python/PROTOCOL.md.
    resident: bool = False

    def __post_init__(self) -> None:
        _one_source("ExecRequest", self.code, self.program)
        if self.resident and (self.program is None or self.peer is None):
            raise ValueError("ExecRequest(resident=True) needs a program and a peer")


def _one_source(what: str, code: str, program: str | None) -> None:
    if program is not None and code:
        raise ValueError(f"{what} takes code or a program name, not both (program {program!r})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecResult:
    status: ExecStatus
    exit_code: int | None = None  # negative: killed by that signal
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    detail: str = ""  # why, for TIMEOUT/MEMORY/OUTPUT_LIMIT/SANDBOX_ERROR

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "wall_s": round(self.wall_s, 6),
            "detail": self.detail,
        }

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
class ExecRequest:
    """A Python program to run: ``code`` as the main script, with ``stdin`` and extra
    ``files`` (relative path -> bytes) in its private writable working directory."""

    code: str
    stdin: bytes = b""
    files: Mapping[str, bytes] = field(default_factory=dict)
    argv: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


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

"""The docker backend's runner channel: the Docker Engine attach socket of a container whose
main process is the runner.

With ``tty=False`` the engine multiplexes the container's stdout and stderr on one stream:
each frame is an 8-byte header (stream type: 1 stdout, 2 stderr; three zero bytes; payload
length, 4-byte big-endian) followed by the payload. Frame boundaries have nothing to do
with the runner's own length-prefixed messages, so stdout payloads are collected in a
buffer that ``read_exact`` drains. Bytes written to the socket reach the runner's stdin
unchanged (the detach-key escape applies to TTY sessions only).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Protocol, cast

from verigen.sandbox._runner_client import TransportError

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

log = logging.getLogger(__name__)

_HEADER = 8
_STDOUT, _STDERR = 1, 2
_STDERR_TAIL = 4096
_WRITE_TIMEOUT_S = 60.0


class _RawSocket(Protocol):
    def settimeout(self, value: float | None) -> None: ...

    def recv(self, n: int) -> bytes: ...

    def sendall(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class AttachTransport:
    """A ``Transport`` (see _runner_client) over one container's attach socket. Owns the
    container: ``kill`` removes it."""

    def __init__(
        self, container: Container, sock: object, reaper: Executor
    ) -> None:
        self.container = container
        self._reaper = reaper
        self._sock = sock  # keep the SDK object alive: it holds the HTTP response
        # The SDK returns a SocketIO for unix sockets; the socket itself allows timeouts.
        self._raw = cast(_RawSocket, getattr(sock, "_sock", sock))
        self._pending = bytearray()  # multiplexed bytes not yet split into frames
        self._stdout = bytearray()
        self._stderr = bytearray()  # last bytes of the runner's own stderr, for diagnostics
        self._closed = False
        self._lock = threading.Lock()
        self.oom_killed = False  # set when the channel broke because of a cgroup OOM kill
        self.oom_seen = 0  # the container's OOM-kill count already accounted for

    @classmethod
    def start(
        cls, client: DockerClient, container: Container, reaper: Executor
    ) -> AttachTransport:
        """Attaches to the created (not yet started) ``container``, then starts it."""
        import docker.errors

        try:
            sock = client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            container.start()
        except docker.errors.DockerException as exc:
            _remove(container)
            raise TransportError(f"cannot start sandbox container: {exc}") from exc
        return cls(container, sock, reaper)

    def write(self, data: bytes) -> None:
        try:
            self._raw.settimeout(_WRITE_TIMEOUT_S)
            self._raw.sendall(data)
        except OSError as exc:
            raise TransportError(f"container stdin closed: {exc}") from exc

    def read_exact(self, n: int, deadline: float) -> bytes:
        while len(self._stdout) < n:
            self._next_frame(deadline)
        data = bytes(self._stdout[:n])
        del self._stdout[:n]
        return data

    def _next_frame(self, deadline: float) -> None:
        """Moves one whole stdout frame into ``_stdout`` (stderr frames are kept aside)."""
        while True:
            if len(self._pending) >= _HEADER:
                stream = self._pending[0]
                size = int.from_bytes(self._pending[4:8], "big")
                if len(self._pending) >= _HEADER + size:
                    payload = self._pending[_HEADER : _HEADER + size]
                    del self._pending[: _HEADER + size]
                    if stream == _STDOUT:
                        self._stdout += payload
                        return
                    if stream != _STDERR:
                        raise TransportError(f"attach stream sent frame type {stream}")
                    self._stderr = (self._stderr + payload)[-_STDERR_TAIL:]
                    continue
            self._pending += self._recv(deadline)

    def _recv(self, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError("runner did not answer before the deadline")
        try:
            self._raw.settimeout(left)
            chunk = self._raw.recv(1 << 16)
        except TimeoutError as exc:
            raise TransportError("runner did not answer before the deadline") from exc
        except OSError as exc:
            raise TransportError(f"attach socket failed: {exc}") from exc
        if not chunk:
            raise TransportError(self._describe_exit())
        return chunk

    def _describe_exit(self) -> str:
        """Why the channel closed; notes a cgroup OOM kill for the sandbox to report."""
        import docker.errors

        state: dict[str, object] = {}
        try:
            self.container.wait(timeout=5)
            self.container.reload()
            state = self.container.attrs.get("State", {})
        except (docker.errors.DockerException, OSError) as exc:
            log.debug("cannot inspect exited container: %s", exc)
        self.oom_killed = state.get("OOMKilled") is True
        stderr = self._stderr.decode("utf-8", "replace").strip()[-500:]
        return (
            f"sandbox container exited (code {state.get('ExitCode', '?')}, "
            f"oom_killed={self.oom_killed})" + (f": {stderr}" if stderr else "")
        )

    def kill(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for obj in (self._raw, self._sock):
            try:
                obj.close()  # type: ignore[attr-defined]
            except (OSError, AttributeError):
                pass
        # Removal takes a few hundred ms; the caller (and its program's result) need not
        # wait. The sandbox waits for its reaper on close.
        try:
            self._reaper.submit(_remove, self.container)
        except RuntimeError:  # reaper already shut down
            _remove(self.container)

    def alive(self) -> bool:
        return not self._closed


def _remove(container: Container) -> None:
    import docker.errors

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.DockerException as exc:
        log.warning("could not remove sandbox container %s: %s", container.short_id, exc)


def container_oom_kills(transport: AttachTransport) -> int:
    """How many processes the container's memory cgroup has OOM-killed (v1 or v2); 0 when
    the count cannot be read."""
    import docker.errors

    files = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"]
    try:
        result = transport.container.exec_run(["cat", *files], stdout=True, stderr=False)
    except docker.errors.DockerException as exc:
        log.debug("cannot read the container's OOM count: %s", exc)
        return 0
    output = result.output if isinstance(result.output, bytes) else b""
    for line in output.decode("ascii", "replace").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0

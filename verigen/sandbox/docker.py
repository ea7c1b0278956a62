"""The ``docker`` sandbox backend: warm containers of the image built from sandboxes/python.

Each worker is one container whose main process (PID 1) is the fork-server
``sandboxes/python/runner.py``; the host talks to it through the Docker Engine's attach
socket (``docker`` SDK), so a program costs a fork inside an already running container,
not a container start. Containers run with no network, a read-only root, a size-limited
tmpfs ``/tmp``, a non-root uid of their own, all capabilities dropped, no-new-privileges,
and pids / memory / CPU limits. A container whose runner breaks or whose program pushed a
limit is removed and replaced; the program in flight gets ``SANDBOX_ERROR`` (or ``MEMORY``
when the container's memory cgroup killed it).

The ``docker`` package is imported only inside functions: importing this module is cheap.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import random
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING

from verigen.errors import UsageError
from verigen.sandbox._docker_transport import AttachTransport, container_oom_kills
from verigen.sandbox._files import runner_sha256, sandbox_dir
from verigen.sandbox._runner_client import RunnerPool, Transport, TransportError
from verigen.sandbox.base import RUNNERS_PER_CORE
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus

if TYPE_CHECKING:
    from docker import DockerClient

log = logging.getLogger(__name__)

IMAGE_NAME = "verigen-sandbox-python"
LABEL = "verigen.sandbox"
OWNER_LABEL = "verigen.sandbox.owner"  # "<host>:<pid>" of the process that made it
INSTANCE_LABEL = "verigen.sandbox.instance"  # one DockerSandbox
RUNNER_SHA_LABEL = "verigen.runner.sha256"
RUNNER_IN_IMAGE = "/opt/verigen/runner.py"


def default_image() -> str:
    """The tag of the image built from this install's runner.py: its sha256, 12 digits,
    so images of several verigen versions coexist and a stale one is never picked up."""
    return f"{IMAGE_NAME}:{runner_sha256()[:12]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerLimits:
    """Caps of each warm container. Per-program ``Limits`` are enforced per process by the
    runner's rlimits; these bound everything a program and its children do together (and
    what a container keeps between programs). The tmpfs counts against ``memory_mb``."""

    memory_mb: int = 2048  # memory + swap of the container; a hit is reported as MEMORY
    pids: int = 256
    cpus: float = 1.0
    tmpfs_mb: int = 256  # the writable /tmp (work dirs); everything else is read-only

    def __post_init__(self) -> None:
        for name in ("memory_mb", "pids", "tmpfs_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"ContainerLimits.{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.cpus <= 512:
            raise UsageError(f"ContainerLimits.cpus must be in (0, 512], got {self.cpus!r}")
        if self.tmpfs_mb >= self.memory_mb:
            raise UsageError(
                f"ContainerLimits.tmpfs_mb ({self.tmpfs_mb}) must be below memory_mb "
                f"({self.memory_mb}): tmpfs pages count against the container's memory"
            )

# The only writable places; the runner empties both after every program, so no program
# sees what an earlier one left (or finds the space used up).
_RUNNER_ARGS = ("--isolated", "--wipe", "/tmp", "--wipe", "/dev/shm", "--wipe", "/dev/mqueue")
_SHM_MB = 16
# Each container gets its own uid so RLIMIT_NPROC (counted per uid, host-wide without user
# namespaces) of one container's fork bomb cannot starve another container's programs.
_UID_BASE, _UID_SPAN = 20000, 40000


def _client(timeout_s: float = 30.0) -> DockerClient:
    import docker

    return docker.from_env(timeout=int(timeout_s))


def docker_unavailable_reason(image: str | None = None) -> str | None:
    """None when a Docker daemon answers and ``image`` exists (built from the current
    runner.py); otherwise why the docker backend cannot run, in words."""
    image = image or default_image()
    try:
        import docker
        import docker.errors
    except ImportError:
        return "the docker SDK is not installed (pip install 'verigen[docker]')"
    try:
        client = docker.from_env(timeout=10)  # asks the daemon for its API version
    except docker.errors.DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return f"no Docker daemon answers at {where}: {exc}"
    try:
        try:
            client.ping()
        except Exception as exc:
            return f"no Docker daemon answers at {client.api.base_url}: {exc}"
        try:
            labels = client.images.get(image).labels or {}
        except docker.errors.ImageNotFound:
            return f"image {image} missing: run `verigen sandbox build`"
        except docker.errors.APIError as exc:
            return f"cannot inspect image {image}: {exc}"
        built_from = labels.get(RUNNER_SHA_LABEL)
        if built_from != runner_sha256():
            return (
                f"image {image} was built from another runner.py than "
                f"{sandbox_dir() / 'runner.py'}: run `verigen sandbox build`"
            )
        return None
    finally:
        client.close()


def build_image(*, mirror: str | None = None, tag: str | None = None) -> str:
    """Builds the sandbox image and returns its tag.

    As root with debootstrap installed (or whenever ``mirror`` is given) it runs
    sandboxes/build-offline.sh, which needs no image registry; otherwise it runs
    ``docker build`` on sandboxes/python/Dockerfile, which pulls python:3.x-slim.
    Raises ``UsageError`` when the build fails.
    """
    tag = tag if tag is not None else default_image()
    if not tag or any(c.isspace() for c in tag):
        raise UsageError(f"bad image tag {tag!r}")
    offline = mirror is not None or (shutil.which("debootstrap") is not None and os.geteuid() == 0)
    if offline:
        return _build_offline(mirror=mirror, tag=tag)
    return _build_dockerfile(tag=tag)


def _build_offline(*, mirror: str | None, tag: str) -> str:
    script = sandbox_dir() / "build-offline.sh"
    if not script.is_file():
        raise UsageError(f"build script not found: {script}")
    cmd = ["bash", str(script), "--tag", tag]
    if mirror is not None:
        cmd += ["--mirror", mirror]
    log.info("building %s: %s", tag, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise UsageError(f"offline image build failed (exit {proc.returncode}):\n{tail}")
    return tag


def _build_dockerfile(*, tag: str) -> str:
    import docker.errors

    context = sandbox_dir()
    labels = {RUNNER_SHA_LABEL: runner_sha256()}
    client = _client(timeout_s=600)
    try:
        client.images.build(path=str(context), tag=tag, labels=labels, rm=True, pull=True)
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise UsageError(
            f"docker build of {context} failed ({exc}); without registry access use "
            f"`bash {context / 'build-offline.sh'}` as root"
        ) from exc
    finally:
        client.close()
    return tag


def remove_stale_containers(client: DockerClient) -> int:
    """Removes sandbox containers left by dead processes of this host; returns how many.

    Lists through the low-level API (one call, labels included): the high-level list
    inspects each container and fails when another process removes one meanwhile."""
    import docker.errors

    removed = 0
    host = socket.gethostname()
    for info in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        labels = info.get("Labels") or {}
        owner_host, _, owner_pid = labels.get(OWNER_LABEL, "").rpartition(":")
        if owner_host == host and owner_pid.isdigit() and _pid_alive(int(owner_pid)):
            continue  # a live sandbox of another process on this host
        if owner_host not in (host, ""):
            continue  # another host sharing the daemon: not ours to judge
        try:
            client.api.remove_container(info["Id"], force=True)
            removed += 1
        except docker.errors.APIError as exc:  # gone already, or being removed by another
            log.debug("could not remove stale container %s: %s", str(info["Id"])[:12], exc)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DockerSandbox:
    """Runs programs in ``workers`` warm Docker containers (default: two per CPU core), each
    capped by ``limits`` (``ContainerLimits``).

    Raises ``UsageError`` when no daemon answers or the image is missing (see
    ``docker_unavailable_reason``). Thread-safe; close it (or use it as a context manager)
    to remove its containers; an atexit hook does so as a backstop.
    """

    name = "docker"

    def __init__(
        self,
        *,
        workers: int | None = None,
        image: str | None = None,
        limits: ContainerLimits | None = None,
    ) -> None:
        if workers is None:
            workers = RUNNERS_PER_CORE * (os.cpu_count() or 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise UsageError(f"docker sandbox workers must be an integer >= 1, got {workers!r}")
        image = image or default_image()
        reason = docker_unavailable_reason(image)
        if reason is not None:
            raise UsageError(f"docker sandbox unavailable: {reason}")
        self.image = image
        self.workers = workers
        self.limits = limits if limits is not None else ContainerLimits()
        self._client = _client()
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self.instance = uuid.uuid4().hex
        self._uids = itertools.count(random.randrange(_UID_SPAN))
        self._uid_lock = threading.Lock()
        self._closed = False
        self._reaper = ThreadPoolExecutor(max_workers=2, thread_name_prefix="verigen-docker-rm")
        if (stale := remove_stale_containers(self._client)) > 0:
            log.info("removed %d stale sandbox container(s)", stale)
        self._pool = RunnerPool(
            self._spawn, workers, slack_s=5.0, startup_timeout_s=60.0, post=_memory_verdict
        )
        atexit.register(self.close)
        try:
            self._pool.warm_up()  # start every container now, in parallel
        except BaseException:
            self.close()
            raise

    def _next_uid(self) -> int:
        with self._uid_lock:
            return _UID_BASE + next(self._uids) % _UID_SPAN

    def _spawn(self) -> AttachTransport:
        import docker.errors
        import docker.types

        uid = self._next_uid()
        lim = self.limits
        try:
            container = self._client.containers.create(
                self.image,
                command=["python3", "-I", "-u", RUNNER_IN_IMAGE, *_RUNNER_ARGS],
                user=f"{uid}:{uid}",
                working_dir="/tmp",
                environment={"PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"},
                hostname="sandbox",
                stdin_open=True,
                tty=False,
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={lim.tmpfs_mb}m,mode=1777"},
                shm_size=f"{_SHM_MB}m",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=lim.pids,
                mem_limit=f"{lim.memory_mb}m",
                memswap_limit=f"{lim.memory_mb}m",
                nano_cpus=int(lim.cpus * 1e9),
                ulimits=[docker.types.Ulimit(name="core", soft=0, hard=0)],
                log_config=docker.types.LogConfig(type="none"),
                labels={LABEL: "1", OWNER_LABEL: self._owner, INSTANCE_LABEL: self.instance},
            )
        except docker.errors.DockerException as exc:
            raise TransportError(f"cannot create a sandbox container: {exc}") from exc
        # Attach before start, so the runner's greeting cannot be missed.
        return AttachTransport.start(self._client, container, self._reaper)

    def run(self, request: ExecRequest) -> ExecResult:
        """Runs one program in a warm container."""
        if self._closed:
            raise UsageError("the docker sandbox is closed")
        return self._pool.run(request)

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        """Runs ``requests`` on all containers in parallel; results in input order."""
        if self._closed:
            raise UsageError("the docker sandbox is closed")
        return self._pool.run_many(requests)

    def close(self) -> None:
        """Removes every container of this sandbox (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._pool.close()
        self._reaper.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _memory_verdict(result: ExecResult, transport: Transport | None) -> ExecResult:
    """MEMORY when the container's memory cgroup killed the program (or the runner).

    The runner sees only "killed by SIGKILL" (or its channel breaking when the OOM killer
    picked the runner itself); the container's OOM counter says whether memory was why.
    """
    if not isinstance(transport, AttachTransport):
        return result
    killed = result.status is ExecStatus.EXITED and result.exit_code == -9
    broken = result.status is ExecStatus.SANDBOX_ERROR
    if not (killed or broken):
        return result
    if broken and transport.oom_killed:
        detail = "the container hit its memory limit (cgroup OOM killed the runner)"
        return replace(result, status=ExecStatus.MEMORY, detail=detail)
    if killed:
        seen, transport.oom_seen = transport.oom_seen, container_oom_kills(transport)
        if transport.oom_seen > seen:
            detail = "killed by the container memory limit (cgroup OOM)"
            return replace(result, status=ExecStatus.MEMORY, detail=detail)
    return result

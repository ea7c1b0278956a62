"""The docker backend end to end: conformance, ExecRequest cases, container hardening,
replacement of a killed container, cgroup OOM -> MEMORY, cleanup."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from verigen.errors import UsageError
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus, Limits


def _require_docker() -> None:
    from verigen.sandbox.docker import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is not None:
        skip_or_fail("docker", reason)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[object]:
    from verigen.sandbox.conformance import prepare_conformance_env
    from verigen.sandbox.docker import DockerSandbox

    _require_docker()
    prepare_conformance_env()  # before any container starts
    with DockerSandbox(workers=2) as sb:
        yield sb


def _containers(sandbox: object) -> list[object]:
    from verigen.sandbox.docker import INSTANCE_LABEL

    client = sandbox._client  # type: ignore[attr-defined]
    instance = sandbox.instance  # type: ignore[attr-defined]
    return list(client.containers.list(filters={"label": f"{INSTANCE_LABEL}={instance}"}))


@pytest.mark.docker
def test_conformance(sandbox: object) -> None:
    from verigen.sandbox.conformance import run_conformance

    results = run_conformance(sandbox)  # type: ignore[arg-type]
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, "\n".join(failed)
    assert len(results) >= 12


# The multiplexed attach stream and the runner's length prefix are independent framings:
# payload sizes around 0x1011 put the bytes 0x10 0x11 (ctrl-p ctrl-q, docker's detach keys)
# into the length prefix, and a 3 MiB stdin spans many stream frames.
_DETACH = "x" * (0x1011 - 64)
CASES = [
    ("stdin", ExecRequest(code="import sys; print(sys.stdin.read().upper())", stdin=b"abc"),
     ExecStatus.EXITED, 0, "ABC\n", ""),
    ("big stdin", ExecRequest(code="import sys; print(len(sys.stdin.buffer.read()))",
                              stdin=bytes(range(256)) * (3 * 4096)),
     ExecStatus.EXITED, 0, f"{3 << 20}\n", ""),
    ("detach keys in frame length", ExecRequest(code=f"print(len({_DETACH!r}))", stdin=b"\x10\x11"),
     ExecStatus.EXITED, 0, f"{len(_DETACH)}\n", ""),
    ("files and argv", ExecRequest(code="import sys, lib; print(lib.X, open('d/in.txt').read(), sys.argv[1:])",
                                   files={"lib.py": b"X = 42", "d/in.txt": b"payload"}, argv=("-n", "3")),
     ExecStatus.EXITED, 0, "42 payload ['-n', '3']\n", ""),
    ("unicode", ExecRequest(code="print('h\\u00e9llo \\u2603')"), ExecStatus.EXITED, 0, "h\u00e9llo \u2603\n", ""),
    ("exit code", ExecRequest(code="import os; os._exit(7)"), ExecStatus.EXITED, 7, "", ""),
    ("traceback", ExecRequest(code="1/0"), ExecStatus.EXITED, 1, "", "ZeroDivisionError"),
    ("non-root uid", ExecRequest(code="import os; print(os.getuid() >= 10000, os.geteuid() != 0)"),
     ExecStatus.EXITED, 0, "True True\n", ""),
    ("no capabilities, no new privileges", ExecRequest(
        code="print(*[l.split()[1] for l in open('/proc/self/status') if l.split(':')[0] in ('CapEff', 'NoNewPrivs')])"),
     ExecStatus.EXITED, 0, "0000000000000000 1\n", ""),
    ("read-only root", ExecRequest(code="open('/usr/lib/x', 'w')"), ExecStatus.EXITED, 1, "",
     "Read-only file system"),
    ("no network interfaces", ExecRequest(code="import socket; print(sorted(n for _, n in socket.if_nameindex()))"),
     ExecStatus.EXITED, 0, "['lo']\n", ""),
    ("cpu limit", ExecRequest(code="while True: pass", limits=Limits(timeout_s=5.0, cpu_s=1.0)),
     ExecStatus.TIMEOUT, None, "", ""),
]


@pytest.mark.docker
@pytest.mark.parametrize(("request_", "status", "code", "stdout", "stderr"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exec_cases(sandbox: object, request_: ExecRequest, status: ExecStatus,
                    code: int | None, stdout: str, stderr: str) -> None:
    result = sandbox.run(request_)  # type: ignore[attr-defined]
    assert result.status is status, result
    if code is not None:
        assert result.exit_code == code, result
    assert result.stdout == stdout
    assert stderr in result.stderr


@pytest.mark.docker
def test_run_many_keeps_order(sandbox: object) -> None:
    requests = [ExecRequest(code=f"print({i} * {i})") for i in range(40)]
    results = sandbox.run_many(requests)  # type: ignore[attr-defined]
    assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(40)]


@pytest.mark.docker
def test_containers_are_hardened(sandbox: object) -> None:
    sandbox.run(ExecRequest(code="pass"))  # type: ignore[attr-defined]
    containers = _containers(sandbox)
    assert containers
    for container in containers:
        host = container.attrs["HostConfig"]  # type: ignore[attr-defined]
        config = container.attrs["Config"]  # type: ignore[attr-defined]
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["Privileged"] is False
        assert 0 < host["PidsLimit"] <= 1024
        assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
        assert host["NanoCpus"] > 0
        assert "size=" in host["Tmpfs"]["/tmp"]
        assert config["User"] and not config["User"].startswith(("0", "root"))


@pytest.mark.docker
def test_killed_container_is_replaced(sandbox: object) -> None:
    """A container killed under a running program: that program gets SANDBOX_ERROR, the
    container is replaced and the next program runs."""
    def kill_soon() -> None:
        time.sleep(1.0)
        for container in _containers(sandbox):
            container.kill()  # type: ignore[attr-defined]

    killer = threading.Thread(target=kill_soon)
    killer.start()
    slow = ExecRequest(code="import time; time.sleep(20)", limits=Limits(timeout_s=30.0))
    results: list[ExecResult] = sandbox.run_many([slow, slow])  # type: ignore[attr-defined]
    killer.join()
    assert [r.status for r in results] == [ExecStatus.SANDBOX_ERROR] * 2, results
    after = sandbox.run_many([ExecRequest(code="print('again')")] * 4)  # type: ignore[attr-defined]
    assert [r.stdout for r in after] == ["again\n"] * 4


_MANY_HOGS = """
import os, time
def hog(mb):
    b = bytearray(mb << 20)
    for j in range(0, len(b), 4096):
        b[j] = 1
    return b
for _ in range(3):
    if os.fork() == 0:
        held = hog(100)
        time.sleep(5)
        os._exit(0)
time.sleep(0.5)
keep = hog(330)  # the largest process: the OOM killer's choice
print('survived')
"""


@pytest.mark.docker
def test_container_memory_limit_is_memory() -> None:
    """Each process stays under its own RLIMIT_AS, together they pass the container's
    cgroup limit: the OOM kill is reported as MEMORY, not as an exit."""
    from verigen.sandbox.docker import ContainerLimits, DockerSandbox

    _require_docker()
    with DockerSandbox(workers=1, limits=ContainerLimits(memory_mb=512, tmpfs_mb=64)) as sb:
        result = sb.run(ExecRequest(code=_MANY_HOGS, limits=Limits(memory_mb=400, timeout_s=8.0)))
        assert result.status is ExecStatus.MEMORY, result
        assert "survived" not in result.stdout
        assert sb.run(ExecRequest(code="print('ok')")).stdout == "ok\n"


@pytest.mark.docker
def test_close_removes_containers_and_stale_ones() -> None:
    import docker

    from verigen.sandbox.docker import (
        INSTANCE_LABEL,
        LABEL,
        OWNER_LABEL,
        DockerSandbox,
        default_image,
        remove_stale_containers,
    )

    _require_docker()
    client = docker.from_env()
    # A container left by a process of this host that no longer exists.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = client.containers.create(default_image(), command=["true"],
                                     labels={LABEL: "1", OWNER_LABEL: f"{os.uname().nodename}:{dead}"})
    assert remove_stale_containers(client) >= 1
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(stale.id)
    sb = DockerSandbox(workers=2)
    assert len(_containers(sb)) == 2
    sb.close()
    sb.close()  # idempotent
    left = client.containers.list(all=True, filters={"label": f"{INSTANCE_LABEL}={sb.instance}"})
    assert left == []
    with pytest.raises(UsageError):
        sb.run(ExecRequest(code="pass"))


@pytest.mark.docker
def test_build_image_offline_gives_a_working_image() -> None:
    """build_image() as CI runs it (offline, from the cached debootstrap root), into a
    throwaway tag; the result passes the image check and runs a program."""
    import shutil

    import docker

    from verigen.sandbox.docker import DockerSandbox, build_image, docker_unavailable_reason

    _require_docker()
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip("the offline build needs root and debootstrap")
    tag = f"verigen-sandbox-python:test-{os.getpid()}"
    try:
        assert build_image(tag=tag) == tag
        assert docker_unavailable_reason(tag) is None
        with DockerSandbox(workers=1, image=tag) as sb:
            assert sb.run(ExecRequest(code="print(6 * 7)")).stdout == "42\n"
    finally:
        docker.from_env().images.remove(tag, force=True)


def test_build_image_rejects_bad_tag() -> None:
    from verigen.sandbox.docker import build_image

    with pytest.raises(UsageError, match="tag"):
        build_image(tag="bad tag")


# ------------------------------------------------------------- no daemon needed


def test_unreachable_daemon_has_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    pytest.importorskip("docker")
    from verigen.sandbox.docker import DockerSandbox, docker_unavailable_reason

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    reason = docker_unavailable_reason()
    assert reason is not None and "no Docker daemon answers" in reason
    with pytest.raises(UsageError, match="no Docker daemon answers"):
        DockerSandbox(workers=1)


@pytest.mark.parametrize("workers", [0, -1, True, 1.5])
def test_bad_workers_raise(workers: object) -> None:
    from verigen.sandbox.docker import DockerSandbox

    with pytest.raises(UsageError, match="workers"):
        DockerSandbox(workers=workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"memory_mb": 0}, {"pids": True}, {"cpus": 0.0},
                                    {"memory_mb": 256, "tmpfs_mb": 256}])
def test_bad_container_limits_raise(kwargs: dict[str, object]) -> None:
    from verigen.sandbox.docker import ContainerLimits

    with pytest.raises(UsageError, match="ContainerLimits"):
        ContainerLimits(**kwargs)  # type: ignore[arg-type]


def test_import_does_not_import_docker() -> None:
    code = "import sys, verigen.sandbox.docker; print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

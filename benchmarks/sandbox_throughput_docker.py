"""Docker harnesses of the sandbox throughput benchmark (imported by sandbox_throughput.py).

  (d) ``docker_run_per_program``: one ``docker run --rm`` (the SDK's ``containers.run``) per
      program, same isolation and limits as the warm pool; the usual way to sandbox with
      Docker, and the cost the warm pool avoids.
  (f) ``docker_warm_pool``: verigen's ``DockerSandbox`` (2 warm containers, ``run_many``).

Both return programs per second. Standalone:

    .venv/bin/python benchmarks/sandbox_throughput_docker.py --data-dir /work/shared/data
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from verigen.sandbox.docker import (
    LABEL,
    OWNER_LABEL,
    ContainerLimits,
    DockerSandbox,
    default_image,
)
from verigen.sandbox.types import ExecRequest, ExecStatus, Limits

log = logging.getLogger("sandbox_throughput_docker")

WORKERS = 2
LIMITS = Limits(timeout_s=10.0, memory_mb=1024)  # as in sandbox_throughput.py
PER_PROGRAM_MAX = 60  # (d) costs ~1 s a program: its rate is measured on the first 60

Program = ExecRequest | str


def _request(program: Program) -> ExecRequest:
    return program if isinstance(program, ExecRequest) else ExecRequest(code=program, limits=LIMITS)


def _run_once(client: object, request: ExecRequest, limits: ContainerLimits) -> bool:
    """One program in a fresh container (the docker-run-per-program way); True on exit 0."""
    import docker.errors

    try:
        client.containers.run(  # type: ignore[attr-defined]
            default_image(),
            command=["python3", "-I", "-c", request.code, *request.argv],
            user="10001:10001",
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmpfs_mb}m,mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=limits.pids,
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(limits.cpus * 1e9),
            labels={LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}"},
            remove=True,
            stdout=True,
            stderr=False,
        )
    except docker.errors.ContainerError:  # non-zero exit
        return False
    return True


def docker_run_per_program(programs: Sequence[Program]) -> float:
    """Programs/s of one ``docker run --rm`` per program, ``WORKERS`` at a time (measured on
    at most ``PER_PROGRAM_MAX`` programs)."""
    import docker

    requests = [_request(p) for p in programs[:PER_PROGRAM_MAX]]
    client = docker.from_env()
    limits = ContainerLimits()
    try:
        _run_once(client, requests[0], limits)  # warm: image layers in the page cache
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKERS) as ex:
            ok = sum(ex.map(lambda r: _run_once(client, r, limits), requests))
        seconds = time.perf_counter() - start
    finally:
        client.close()
    log.info("(d) docker run per program: %d/%d exit 0", ok, len(requests))
    return len(requests) / seconds


def docker_warm_pool(programs: Sequence[Program]) -> float:
    """Programs/s of ``DockerSandbox(workers=WORKERS).run_many`` (containers started first)."""
    requests = [_request(p) for p in programs]
    with DockerSandbox(workers=WORKERS) as sandbox:
        sandbox.run_many(requests[: min(4, len(requests))])  # warm: first fork, page cache
        start = time.perf_counter()
        results = sandbox.run_many(requests)
        seconds = time.perf_counter() - start
    ok = sum(r.status is ExecStatus.EXITED and r.exit_code == 0 for r in results)
    log.info("(f) verigen docker warm pool: %d/%d exit 0", ok, len(requests))
    return len(requests) / seconds


def _humaneval(data_dir: Path) -> list[str]:
    with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [f"{r['prompt']}{r['canonical_solution']}\n\n{r['test']}\n\ncheck({r['entry_point']})\n"
            for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("VERIGEN_DATA_DIR", "/work/shared/data")))
    parser.add_argument("--trivial", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    suites = {"trivial print(1)": ["print(1)"] * args.trivial,
              "HumanEval canonical": _humaneval(args.data_dir)}
    for suite, programs in suites.items():
        for name, fn in (("(d) docker run per program", docker_run_per_program),
                         ("(f) verigen docker warm pool", docker_warm_pool)):
            print(f"{suite:22s} {name:30s} {fn(programs):8.1f} programs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

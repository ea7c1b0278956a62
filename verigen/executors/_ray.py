"""The Ray executor: the engine on this machine (the driver), samplers and verifiers on a cluster.

The driver plans, writes the run directory and finalizes it exactly as the local executor
does (``verigen.engine.execute``); only the sampler and the verifier pool it hands the
engine live on Ray actors. Workers never write the run directory: it stays the single
source of truth, so a resumed or retried run neither loses nor duplicates a sample.

Without ``address`` a private single-node cluster is started on 127.0.0.1 with no
dashboard. With one, verigen connects as a client of that cluster and opens nothing
itself (see the README: keeping a Ray cluster closed).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from verigen.engine import Plan, ProgressSink, RunSummary, VerifierSpec, execute, pending
from verigen.errors import InfrastructureError, UsageError
from verigen.executors import RayOptions
from verigen.executors._ray_feed import RaySampler, RayVerifyPool
from verigen.executors._workers import SampleWorker, VerifyWorker, WorkerInfo
from verigen.guarded import task_verifier
from verigen.rundir import RunDir
from verigen.verify.pool import DedupPool

log = logging.getLogger(__name__)

# An actor that is not up within this long (model load included) fails the run before
# anything is written; a request the cluster can never place (no GPU) ends the same way.
ACTOR_START_TIMEOUT_S = 900.0
# A --ray-address whose port does not accept a connection within this long is refused.
CONNECT_TIMEOUT_S = 10.0
# A killed actor is started again (on any node with room) up to this many times.
ACTOR_RESTARTS = 8


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'verigen[ray]'") from None
    return ray


def execute_on_ray(p: Plan, progress: ProgressSink | None, options: RayOptions) -> RunSummary:
    """``execute(p)`` with the sampler and the verifier pool on Ray actors."""
    ray = import_ray()
    todo = pending(p, RunDir(p.out, p.config).latest())  # reads only, as the engine does
    spec = VerifierSpec.of(p) if todo.requests or todo.retry else None
    owned = _connect(ray, options)
    closers: list[Callable[[], None]] = []
    try:
        sampler = _open_samplers(ray, p, options, closers) if todo.requests else None
        pool = _open_verifiers(ray, p, spec, options, closers) if spec is not None else None
        return execute(p, progress, sampler=sampler, pool=pool)
    finally:
        for close in reversed(closers):
            try:
                close()
            except Exception as exc:  # cleanup of a cluster that went away must not hide the run's error
                log.warning("closing a Ray resource failed: %s", exc)
        if owned:
            ray.shutdown()


def _connect(ray: Any, options: RayOptions) -> bool:
    """Connect (or start a private loopback cluster); True when this call did it."""
    if ray.is_initialized():  # library use inside an application that already holds a connection
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if options.address is None:
        need = options.samplers * options.sampler_cpus + options.verifiers * options.verifier_cpus
        # address="local": a new cluster even where RAY_ADDRESS names another one.
        ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                 num_cpus=max(os.cpu_count() or 1, int(need + 0.999)), **quiet)
        return True
    _check_reachable(options.address)
    try:
        ray.init(address=options.address, **quiet)
    except ConnectionError as exc:
        raise UsageError(f"--ray-address {options.address!r}: no Ray cluster answers there ({exc})") from None
    return True


def _check_reachable(address: str) -> None:
    """A plain host:port that refuses a TCP connection fails at once (Ray itself retries for
    minutes); other forms ("auto", "ray://...") go to Ray as they are."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not host or "/" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(f"--ray-address {address!r}: no Ray cluster answers there ({exc.strerror or exc})") from None


def _started(ray: Any, actors: list[Any], what: str) -> list[WorkerInfo]:
    refs = [a.info.remote() for a in actors]
    ready, waiting = ray.wait(refs, num_returns=len(refs), timeout=ACTOR_START_TIMEOUT_S)
    if waiting:
        raise InfrastructureError(
            f"{len(waiting)} of {len(refs)} {what} actors did not start within {ACTOR_START_TIMEOUT_S:g}s "
            "(does the cluster have the CPUs/GPUs they ask for?)"
        )
    try:
        infos: list[WorkerInfo] = ray.get(ready)
    except ray.exceptions.RayError as exc:
        raise InfrastructureError(f"a {what} actor could not start on the cluster: {exc}") from None
    for info in infos:
        log.info("%s actor up: pid %d on %s", what, info.pid, info.host)
    return infos


def _kill(ray: Any, actors: list[Any]) -> Callable[[], None]:
    def close() -> None:
        for actor in actors:
            ray.kill(actor, no_restart=True)

    return close


def _open_samplers(ray: Any, p: Plan, options: RayOptions, closers: list[Callable[[], None]]) -> RaySampler:
    remote = ray.remote(num_cpus=options.sampler_cpus, num_gpus=options.sampler_gpus,
                        max_restarts=ACTOR_RESTARTS, max_task_retries=0)(SampleWorker)
    model = p.config.model
    actors = [remote.remote(model.backend, model.name, p.sampler_options, os.getcwd()) for _ in range(options.samplers)]
    closers.append(_kill(ray, actors))
    info = _started(ray, actors, "sampler")[0]
    return RaySampler(actors, options, name=info.name, model_id=info.version)


def _open_verifiers(ray: Any, p: Plan, spec: VerifierSpec, options: RayOptions,
                    closers: list[Callable[[], None]]) -> DedupPool:
    remote = ray.remote(num_cpus=options.verifier_cpus, max_restarts=ACTOR_RESTARTS, max_task_retries=0)(VerifyWorker)
    cfg = p.config.verify
    actors = [remote.remote(spec, cfg.workers, cfg.time_limit_s, os.getcwd()) for _ in range(options.verifiers)]
    closers.append(_kill(ray, actors))
    info = _started(ray, actors, "verifier")[0]
    # The driver's own verifier only says which candidates are alike (as the local pool's does).
    local = task_verifier(p.task)
    closers.append(local.close)
    pool = RayVerifyPool(actors, options, verifier=info.name, version=info.version)
    closers.append(pool.close)
    return DedupPool(pool, getattr(local, "cache_key", None))

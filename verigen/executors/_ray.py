"""The Ray executor: the engine on this machine (the driver), samplers and verifiers on a cluster.

The driver plans, writes the run directory and finalizes it exactly as the local executor
does (``verigen.engine.execute``); only the sampler and the verifier pool it hands the
engine live on Ray actors. Workers never write the run directory: it stays the single
source of truth, so a resumed or retried run neither loses nor duplicates a sample.

``ray_session`` keeps those actors up across the stages of a loop (``RaySession``): one
set of sampler actors, which load each new policy in place, and one set of verifier
actors, which keep a warm pool per verifier they were asked for. Training stays on the
driver.

Without ``address`` a private single-node cluster is started on 127.0.0.1 with no
dashboard. With one, verigen connects as a client of that cluster and opens nothing
itself (see the README: keeping a Ray cluster closed).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from verigen.engine import (
    Plan,
    ProgressSink,
    RunSummary,
    SamplerSpec,
    VerifierSource,
    VerifierSpec,
    execute,
    pending,
)
from verigen.errors import InfrastructureError, UsageError
from verigen.executors import RayOptions
from verigen.executors._ray_data import RayDataSampler
from verigen.executors._ray_feed import RaySampler, RayVerifyPool
from verigen.executors._session import PoolKey
from verigen.executors._workers import SampleWorker, VerifyWorker, WorkerInfo
from verigen.rundir import RunDir
from verigen.sampling.base import Sampler
from verigen.verify.base import Verifier
from verigen.verify.pool import DedupPool, VerifyPool

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
    import_ray()
    todo = pending(p, RunDir(p.out, p.config).latest())  # reads only, as the engine does
    spec = VerifierSpec.of(p) if todo.requests or todo.retry else None  # refused before Ray starts
    with ray_session(options) as remote:
        sampler = remote.sampler(SamplerSpec.of(p)) if todo.requests else None
        pool = (remote.pool(spec, workers=p.config.verify.workers, time_limit_s=p.config.verify.time_limit_s)
                if spec is not None else None)
        return execute(p, progress, sampler=sampler, pool=pool)


@contextmanager
def ray_session(options: RayOptions) -> Iterator[RaySession]:
    """A ``RaySession``; at the end its actors are killed and a connection it made is closed."""
    remote = RaySession(import_ray(), options)
    try:
        yield remote
    finally:
        remote.close()


class RaySession:
    """Sampler and verifier actors opened once and kept across stages (``Session``).

    Connects on first use. ``sampler(spec)`` starts ``options.samplers`` sampler actors the
    first time and has them load ``spec``; a later, different spec (a new checkpoint) is
    loaded by the same actors. ``pool(source)`` starts ``options.verifiers`` verifier actors
    the first time; every source gets a warm pool in each of them.
    """

    def __init__(self, ray: Any, options: RayOptions) -> None:
        self._ray = ray
        self._options = options
        self._owned: bool | None = None  # None: not connected yet
        self._sampler_actors: list[Any] = []
        self._sampler: RaySampler | RayDataSampler | None = None
        self._verifier_actors: list[Any] = []
        self._pools: dict[PoolKey, tuple[Verifier, RayVerifyPool, DedupPool]] = {}

    def _connect(self) -> None:
        if self._owned is None:
            self._owned = _connect(self._ray, self._options)

    def sampler(self, spec: SamplerSpec) -> Sampler:
        if self._sampler is not None and self._sampler.spec == spec:
            return self._sampler
        self._connect()
        ray, options = self._ray, self._options
        if options.generation == "data":  # a Ray Data pipeline per stream (verigen.executors._ray_data)
            self.release_sampler()
            self._sampler = RayDataSampler(ray, options, spec, restarts=ACTOR_RESTARTS,
                                           start_timeout_s=ACTOR_START_TIMEOUT_S)
            return self._sampler
        if not self._sampler_actors:
            remote = ray.remote(num_cpus=options.sampler_cpus, num_gpus=options.sampler_gpus,
                                max_restarts=ACTOR_RESTARTS, max_task_retries=0)(SampleWorker)
            self._sampler_actors = [remote.remote(os.getcwd()) for _ in range(options.samplers)]
        self._sampler = None
        info = _started(ray, [a.load.remote(spec) for a in self._sampler_actors], "sampler")[0]
        self._sampler = RaySampler(self._sampler_actors, options, spec, name=info.name, model_id=info.version)
        return self._sampler

    def release_sampler(self) -> None:
        if isinstance(self._sampler, RayDataSampler):  # its pool ended with its pipeline
            self._sampler.close()
        if self._sampler is None or isinstance(self._sampler, RayDataSampler):
            self._sampler = None
            return
        self._sampler = None
        refs = [a.unload.remote() for a in self._sampler_actors]
        try:
            self._ray.get(refs, timeout=ACTOR_START_TIMEOUT_S)
        except self._ray.exceptions.RayError as exc:  # a dead actor holds no model: nothing to free
            log.warning("a sampler actor did not unload its model: %s", exc)

    def pool(self, source: VerifierSource, *, workers: int | None, time_limit_s: float | None = None) -> VerifyPool:
        key: PoolKey = (source, workers, time_limit_s)
        if key in self._pools:
            return self._pools[key][2]
        self._connect()
        ray, options = self._ray, self._options
        if not self._verifier_actors:
            remote = ray.remote(num_cpus=options.verifier_cpus, max_restarts=ACTOR_RESTARTS,
                                max_task_retries=0)(VerifyWorker)
            self._verifier_actors = [remote.remote(os.getcwd()) for _ in range(options.verifiers)]
        info = _started(ray, [a.open.remote(key) for a in self._verifier_actors], "verifier")[0]
        # The driver's own verifier only says which candidates are alike (as the local pool's does).
        local = source.build()
        pool = RayVerifyPool(self._verifier_actors, options, key, verifier=info.name, version=info.version)
        self._pools[key] = (local, pool, DedupPool(pool, getattr(local, "cache_key", None)))
        return self._pools[key][2]

    def close(self) -> None:
        """Wait for the pools' batches, kill every actor, disconnect when this session connected."""
        steps = [pool.close for _, pool, _ in self._pools.values()]
        steps += [local.close for local, _, _ in self._pools.values()]
        steps += [self._sampler.close] if isinstance(self._sampler, RayDataSampler) else []  # its probe actor
        steps += [lambda: self._kill(self._sampler_actors), lambda: self._kill(self._verifier_actors)]
        self._pools, self._sampler = {}, None
        try:
            for step in steps:
                try:
                    step()
                except Exception as exc:  # cleanup of a cluster that went away must not hide the run's error
                    log.warning("closing a Ray resource failed: %s", exc)
        finally:
            self._sampler_actors, self._verifier_actors = [], []
            if self._owned:
                self._ray.shutdown()
            self._owned = None

    def _kill(self, actors: list[Any]) -> None:
        for actor in actors:
            self._ray.kill(actor, no_restart=True)


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


def _started(ray: Any, refs: list[Any], what: str) -> list[WorkerInfo]:
    """The answers of every actor to its first call (start-up included): a model loaded, a
    pool built. An actor that cannot do it fails the stage before anything is written."""
    ready, waiting = ray.wait(refs, num_returns=len(refs), timeout=ACTOR_START_TIMEOUT_S)
    if waiting:
        raise InfrastructureError(
            f"{len(waiting)} of {len(refs)} {what} actors did not start within {ACTOR_START_TIMEOUT_S:g}s "
            "(does the cluster have the CPUs/GPUs they ask for?)"
        )
    try:
        infos: list[WorkerInfo] = ray.get(ready)
    except ray.exceptions.RayError as exc:
        raise InfrastructureError(f"a {what} actor could not start or set up on the cluster: {exc}") from None
    for info in infos:
        log.info("%s actor up: pid %d on %s", what, info.pid, info.host)
    return infos

"""Where generation and verification run: ``local`` (this machine's processes) or ``ray``.

Both run the same engine (``verigen.engine.execute``) on the same plan: the driver alone
plans, writes the run directory and finalizes it; an executor only decides where the
sampler and the verifier pool live. ``local`` opens them in this process (the engine's
default); ``ray`` opens sampler actors (data-parallel model replicas) and verifier actors
(each owning a warm verifier pool built from a ``VerifierSpec``) on a Ray cluster, and hands
the engine a sampler and a pool that feed those actors in bounded batches. With
``RayOptions(generation="data")`` the sampler is a Ray Data pipeline instead
(``verigen.executors._ray_data``): requests as rows, ``map_batches`` on an actor pool of
``samplers`` model replicas, samples streamed back to the driver.

    summary = run(plan(config), progress, ExecutorOptions(kind="ray", ray=RayOptions(address="10.0.0.5:6379")))

A caller that runs many stages (the ReST-EM and self-play loops) opens one ``session`` for
all of them: the sampler (actors) and verifier pools (actors) stay up across stages, and a
new policy is loaded into the same sampler actors:

    with session(options) as s:
        execute(p1, sampler=s.sampler(SamplerSpec.of(p1)), pool=s.pool(VerifierSpec.of(p1), workers=2))
        s.release_sampler()        # frees the model before training on the driver
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, get_args

from verigen.engine import Plan, ProgressSink, RunSummary, execute
from verigen.errors import UsageError
from verigen.executors._session import LocalSession, Session

ExecutorKind = Literal["local", "ray"]
# How Ray generates: "actors" (sampler actors that verigen feeds itself, kept up across a
# loop's stages) or "data" (a Ray Data pipeline per stage: map_batches on an actor pool).
RayGeneration = Literal["actors", "data"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RayOptions:
    """How a run uses a Ray cluster (``verigen.executors._ray``)."""

    address: str | None = None  # "host:port" of an existing cluster; None: a private one on 127.0.0.1
    samplers: int = 1  # sampler actors, each with the model loaded (data-parallel replicas)
    verifiers: int = 1  # verifier actors, each with a pool of ``verify.workers`` workers
    sampler_cpus: float = 1.0
    sampler_gpus: float = 0.0
    verifier_cpus: float = 1.0
    request_batch: int = 4  # prompts per generation batch
    verify_batch: int = 16  # checks per verification batch
    in_flight: int = 2  # batches in flight per actor: the backpressure bound
    max_attempts: int = 6  # a batch whose actor dies is sent again, at most this many times in all
    generation: RayGeneration = "actors"  # see RayGeneration and the README (Ray Data generation)

    def __post_init__(self) -> None:
        if self.generation not in get_args(RayGeneration):
            raise UsageError(f"bad --ray-generation {self.generation!r}: expected one of "
                             f"{', '.join(get_args(RayGeneration))}")
        for name in ("samplers", "verifiers", "request_batch", "verify_batch", "in_flight", "max_attempts"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UsageError(f"bad Ray option {name}={value!r}: must be an integer >= 1")
        for name in ("sampler_cpus", "sampler_gpus", "verifier_cpus"):
            if getattr(self, name) < 0:
                raise UsageError(f"bad Ray option {name}={getattr(self, name)!r}: must be >= 0")
        if self.address is not None and not self.address.strip():
            raise UsageError("--ray-address is empty: give host:port of the cluster's head, or leave it out")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorOptions:
    kind: ExecutorKind = "local"
    ray: RayOptions = field(default_factory=RayOptions)

    @classmethod
    def parse(cls, kind: str, *, ray_address: str | None = None, ray_samplers: int | None = None,
              ray_verifiers: int | None = None, ray_generation: str | None = None,
              ray_sampler_gpus: float | None = None) -> ExecutorOptions:
        """From the CLI's words; a bad value raises ``UsageError`` naming it."""
        if kind not in get_args(ExecutorKind):
            raise UsageError(f"bad --executor {kind!r}: expected one of {', '.join(get_args(ExecutorKind))}")
        if kind == "local":
            given = [flag for flag, value in (("--ray-address", ray_address), ("--ray-samplers", ray_samplers),
                                              ("--ray-verifiers", ray_verifiers),
                                              ("--ray-generation", ray_generation),
                                              ("--ray-sampler-gpus", ray_sampler_gpus)) if value is not None]
            if given:
                raise UsageError(f"{given[0]} needs --executor ray")
            return cls(kind="local")
        ray = RayOptions(address=ray_address, samplers=ray_samplers if ray_samplers is not None else 1,
                         verifiers=ray_verifiers if ray_verifiers is not None else 1,
                         sampler_gpus=ray_sampler_gpus if ray_sampler_gpus is not None else 0.0,
                         generation=ray_generation or "actors")  # type: ignore[arg-type]  # checked there
        return cls(kind="ray", ray=ray)


def run(p: Plan, progress: ProgressSink | None = None, options: ExecutorOptions | None = None) -> RunSummary:
    """Execute ``p`` with the chosen executor; same run directory and results either way."""
    options = options or ExecutorOptions()
    if options.kind == "local":
        return execute(p, progress)
    from verigen.executors._ray import execute_on_ray

    return execute_on_ray(p, progress, options.ray)


@contextmanager
def session(options: ExecutorOptions | None = None) -> Iterator[Session]:
    """A ``Session`` on the chosen executor, closed (actors and all) at the end. A Ray
    session connects on first use, so a loop with nothing left to do never starts Ray."""
    options = options or ExecutorOptions()
    if options.kind == "ray":
        from verigen.executors._ray import ray_session

        with ray_session(options.ray) as remote:
            yield remote
        return
    local = LocalSession()
    try:
        yield local
    finally:
        local.close()


__all__ = ["ExecutorKind", "ExecutorOptions", "LocalSession", "RayGeneration", "RayOptions", "Session", "run", "session"]

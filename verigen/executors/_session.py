"""A session: the open samplers and verifier pools of a caller that runs many stages.

A loop (ReST-EM, self-play) runs several engine stages on one policy, then trains a new
one. It asks its session for a sampler and a pool per stage; the session keeps them open
while they stay the same (one model load, one warm pool per verifier), loads the new model
when the spec changes, and frees the model's memory on ``release_sampler`` (before the
M-step trains on the driver). ``LocalSession`` holds them in this process;
``verigen.executors._ray.RaySession`` holds them in Ray actors.
"""

from __future__ import annotations

from typing import Protocol

from verigen.engine import SamplerSpec, VerifierSource
from verigen.sampling.base import Sampler
from verigen.verify.base import Verifier
from verigen.verify.pool import VerifyPool, open_pool

PoolKey = tuple[VerifierSource, int | None, float | None]


class Session(Protocol):
    """Open samplers and verifier pools, kept across a caller's stages; closed by its owner."""

    def sampler(self, spec: SamplerSpec) -> Sampler:
        """The open sampler of ``spec``: the one already loaded when it is the same spec,
        else the new model loaded in place of the old (which is closed)."""
        ...

    def release_sampler(self) -> None:
        """Free the loaded model's memory (the next ``sampler`` call loads it again)."""
        ...

    def pool(self, source: VerifierSource, *, workers: int | None, time_limit_s: float | None = None) -> VerifyPool:
        """A warm pool of ``source``'s verifier, one per (source, workers, time limit)."""
        ...

    def close(self) -> None: ...


class LocalSession:
    """This machine's processes: one loaded sampler at a time, one pool per verifier."""

    def __init__(self) -> None:
        self._sampler: tuple[SamplerSpec, Sampler] | None = None
        self._pools: dict[PoolKey, tuple[Verifier, VerifyPool]] = {}

    def sampler(self, spec: SamplerSpec) -> Sampler:
        if self._sampler is not None and self._sampler[0] == spec:
            return self._sampler[1]
        self.release_sampler()
        sampler = spec.open()
        self._sampler = (spec, sampler)
        return sampler

    def release_sampler(self) -> None:
        if self._sampler is not None:
            sampler, self._sampler = self._sampler[1], None
            sampler.close()

    def pool(self, source: VerifierSource, *, workers: int | None, time_limit_s: float | None = None) -> VerifyPool:
        key: PoolKey = (source, workers, time_limit_s)
        if key not in self._pools:
            verifier = source.build()
            try:
                self._pools[key] = (verifier, open_pool(verifier, workers=workers, time_limit_s=time_limit_s))
            except BaseException:
                verifier.close()
                raise
        return self._pools[key][1]

    def close(self) -> None:
        self.release_sampler()
        pools, self._pools = list(self._pools.values()), {}
        for verifier, pool in pools:
            pool.close()
            verifier.close()

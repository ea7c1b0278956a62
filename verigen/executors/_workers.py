"""The code that runs inside Ray actors: plain classes, made remote by ``_ray``.

Nothing here imports Ray; a worker node needs verigen and the task's distribution installed
(the same environment as the driver). Each actor builds what it holds in its own process:
a sampler from the backend name and options, a verifier pool from a ``VerifierSpec``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from verigen.engine import VerifierSpec
from verigen.sampling.base import SampleOutput, SampleRequest, SamplerOptions, create_sampler
from verigen.types import JSONValue, Problem, SamplingParams, Verdict
from verigen.verify.pool import open_pool


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerInfo:
    """Who answered: for logs and for tests that kill a worker on purpose."""

    pid: int
    host: str
    name: str  # the verifier's or the sampler's name
    version: str  # the verifier's version, the sampler's model id


def _here(name: str, version: str) -> WorkerInfo:
    return WorkerInfo(pid=os.getpid(), host=socket.gethostname(), name=name, version=version)


def _enter(cwd: str) -> None:
    """Relative paths of the config (model, data) mean what they mean on the driver wherever
    the driver's folder exists on this node (a shared file system, or the same machine)."""
    if os.path.isdir(cwd):
        os.chdir(cwd)


class SampleWorker:
    """One loaded model: samples whole batches of requests."""

    def __init__(self, backend: str, model: str, options: SamplerOptions, cwd: str) -> None:
        _enter(cwd)
        self._sampler = create_sampler(backend, model, options)

    def info(self) -> WorkerInfo:
        return _here(self._sampler.name, self._sampler.model_id)

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        return self._sampler.provenance(params)

    def sample(self, requests: Sequence[SampleRequest], params: SamplingParams) -> list[SampleOutput]:
        # A batch comes back whole or not at all: an actor killed mid-batch loses only
        # this batch, which the driver sends again (none of it was delivered).
        return list(self._sampler.stream(requests, params))

    def close(self) -> None:
        self._sampler.close()


class VerifyWorker:
    """One verifier and its warm pool (worker processes, sandbox runners), fed in batches."""

    def __init__(self, spec: VerifierSpec, workers: int | None, time_limit_s: float, cwd: str) -> None:
        _enter(cwd)
        self._verifier = spec.build()
        try:
            self._pool = open_pool(self._verifier, workers=workers, time_limit_s=time_limit_s, dedup=False)
        except BaseException:
            self._verifier.close()
            raise

    def info(self) -> WorkerInfo:
        return _here(self._verifier.name, self._verifier.version)

    def verify(self, jobs: Sequence[tuple[Problem[Any], str]]) -> list[Verdict]:
        futures: list[Future[Verdict]] = [self._pool.submit(problem, text) for problem, text in jobs]
        return [f.result() for f in futures]

    def close(self) -> None:
        self._pool.close()
        self._verifier.close()

"""The code that runs inside Ray actors: plain classes, made remote by ``_ray``.

Nothing here imports Ray; a worker node needs verigen and the task's distribution installed
(the same environment as the driver). Each actor builds what it holds in its own process:
a sampler from a ``SamplerSpec``, a verifier pool from a ``VerifierSource`` (``VerifierSpec``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from verigen.engine import SamplerSpec
from verigen.executors._session import PoolKey
from verigen.sampling.base import SampleOutput, Sampler, SampleRequest
from verigen.types import JSONValue, Problem, SamplingParams, Verdict
from verigen.verify.base import Verifier
from verigen.verify.pool import VerifyPool, open_pool


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


def _check_model_path(spec: SamplerSpec) -> None:
    """A model given as an absolute path (a checkpoint the driver just trained) must exist
    on this node: on a cluster of several machines that needs storage they all mount."""
    if os.path.isabs(spec.model) and not os.path.exists(spec.model):
        raise FileNotFoundError(
            f"model {spec.model!r} does not exist on Ray node {socket.gethostname()}: the run directory "
            "(where the loops write checkpoints) and model folders must be on storage every node mounts at the same path"
        )


class SampleWorker:
    """One loaded model at a time: samples whole batches of requests.

    The model travels with every call (``SamplerSpec``), so an actor that Ray restarted
    after a crash, or that the driver told to unload, loads it again on its next batch;
    a loop swaps in a new policy checkpoint with ``load`` without restarting the actor.
    """

    def __init__(self, cwd: str) -> None:
        _enter(cwd)
        self._spec: SamplerSpec | None = None
        self._sampler: Sampler | None = None

    def _ready(self, spec: SamplerSpec) -> Sampler:
        if self._sampler is None or self._spec != spec:
            self.unload()
            _check_model_path(spec)
            self._sampler = spec.open()
            self._spec = spec
        return self._sampler

    def load(self, spec: SamplerSpec) -> WorkerInfo:
        sampler = self._ready(spec)
        return _here(sampler.name, sampler.model_id)

    def unload(self) -> None:
        """Close the model and give its memory back (the process stays)."""
        sampler, self._sampler, self._spec = self._sampler, None, None
        if sampler is None:
            return
        sampler.close()
        del sampler
        import gc
        import sys

        gc.collect()
        torch = sys.modules.get("torch")  # only when a backend imported it
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def provenance(self, spec: SamplerSpec, params: SamplingParams) -> dict[str, JSONValue]:
        return self._ready(spec).provenance(params)

    def sample(self, spec: SamplerSpec, requests: Sequence[SampleRequest], params: SamplingParams) -> list[SampleOutput]:
        # A batch comes back whole or not at all: an actor killed mid-batch loses only
        # this batch, which the driver sends again (none of it was delivered).
        return list(self._ready(spec).stream(requests, params))

    def close(self) -> None:
        self.unload()


class VerifyWorker:
    """Warm verifier pools (worker processes, sandbox runners), one per verifier source,
    fed in batches. Like the sampler's model, the source travels with every batch: a
    restarted actor builds its pool again on the first batch it gets."""

    def __init__(self, cwd: str) -> None:
        _enter(cwd)
        self._pools: dict[PoolKey, tuple[Verifier, VerifyPool]] = {}

    def _pool(self, key: PoolKey) -> tuple[Verifier, VerifyPool]:
        if key not in self._pools:
            source, workers, time_limit_s = key
            verifier = source.build()
            try:
                pool = open_pool(verifier, workers=workers, time_limit_s=time_limit_s, dedup=False)
            except BaseException:
                verifier.close()
                raise
            self._pools[key] = (verifier, pool)
        return self._pools[key]

    def open(self, key: PoolKey) -> WorkerInfo:
        verifier, _ = self._pool(key)
        return _here(verifier.name, verifier.version)

    def verify(self, key: PoolKey, jobs: Sequence[tuple[Problem[Any], str]]) -> list[Verdict]:
        _, pool = self._pool(key)
        futures: list[Future[Verdict]] = [pool.submit(problem, text) for problem, text in jobs]
        return [f.result() for f in futures]

    def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for verifier, pool in pools:
            pool.close()
            verifier.close()


class GenerateBatch:
    """The callable class of the Ray Data generation path (``map_batches``): one per actor
    of the pool, each with the model loaded once (a data-parallel replica), answering a
    batch of request rows (``problem_id``, ``messages`` as JSON, ``indices``) with one row
    per sample. Ray Data sends a batch whose actor died to another (or the restarted) one;
    nothing of it was delivered, as a map task's output block is only taken when it ends."""

    def __init__(self, cwd: str, spec: SamplerSpec, params: SamplingParams) -> None:
        _enter(cwd)
        _check_model_path(spec)
        self._sampler = spec.open()
        self._params = params

    def __call__(self, batch: Any) -> Any:
        import json

        import pyarrow as pa

        from verigen.types import ChatMessage

        requests = [
            SampleRequest(problem_id=row["problem_id"], indices=tuple(row["indices"]),
                          messages=tuple(ChatMessage(**m) for m in json.loads(row["messages"])))
            for row in batch.to_pylist()
        ]
        rows = [{"problem_id": out.problem_id, "index": out.index, "text": out.completion.text,
                 "finish_reason": out.completion.finish_reason, "prompt_tokens": out.completion.prompt_tokens,
                 "completion_tokens": out.completion.completion_tokens, "latency_s": out.latency_s}
                for out in self._sampler.stream(requests, self._params)]
        return pa.Table.from_pylist(rows, schema=sample_schema())


def sample_schema() -> Any:
    """The rows ``GenerateBatch`` answers with (pyarrow is imported where it runs)."""
    import pyarrow as pa

    return pa.schema([("problem_id", pa.string()), ("index", pa.int64()), ("text", pa.string()),
                      ("finish_reason", pa.string()), ("prompt_tokens", pa.int64()),
                      ("completion_tokens", pa.int64()), ("latency_s", pa.float64())])

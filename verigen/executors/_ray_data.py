"""The Ray Data generation path (``RayOptions(generation="data")``): a sampler that streams
the engine its samples from a Ray Data pipeline.

``stream(requests, params)`` turns the requests into plain-data rows (``problem_id``,
``messages`` as JSON, ``indices``), one block per ``request_batch`` of them, and maps them
with ``map_batches(GenerateBatch, ...)`` on a fixed actor pool of ``samplers`` actors, each
with the model loaded once (data-parallel replicas; ``num_gpus=sampler_gpus`` each, so vLLM
on GPU workers). The sample rows come back to the driver through
``iter_rows``: Ray Data's streaming executor bounds what is in flight (``in_flight`` tasks
per actor and its object-store budget), and the engine pulls the next row only after it
has handed the last one to the verifier pool, which itself blocks when verification lags.
The driver alone writes the run directory, as with the actors path.

Fault tolerance, set explicitly rather than left to Ray Data's defaults (which in 2.60 are
``max_restarts=-1`` and ``max_task_retries=-1``, retry for ever): a killed pool actor is
restarted up to ``ACTOR_RESTARTS`` times, and its in-flight batch is retried, on the
restarted or another actor, up to ``max_attempts`` times in all; a batch that fails every
attempt fails the dataset, hence the run (``max_errored_blocks=0``), as a generation batch
does on the actors path. A map task's output block is taken only when the task ends, so a
retried batch is neither lost nor delivered twice; this sampler still drops (and counts) a
sample it already yielded, and the engine refuses a missing one. These settings go on the
driver's current ``DataContext`` (the one Ray Data reads when the pipeline runs): in a
process of its own, verigen's; an application that embeds verigen shares them.

The engine needs the sampler's name, model id and provenance before the first sample
(``SamplerInfo``): a probe actor (``SampleWorker``) loads the model once for them and is
killed before the pipeline starts, so that its memory (a GPU) is free for the pool. A
pipeline opens its pool for one stage: a loop's every stage loads the model again (the
actors path keeps it loaded), which is why ``actors`` stays the default.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from verigen.engine import SamplerSpec
from verigen.executors import RayOptions
from verigen.sampling.base import SampleOutput, SampleRequest
from verigen.types import Completion, JSONValue, SamplingParams

log = logging.getLogger(__name__)


class RayDataSampler:
    """The engine's sampler: each ``stream`` is one Ray Data ``map_batches`` pipeline."""

    def __init__(self, ray: Any, options: RayOptions, spec: SamplerSpec, *, restarts: int, start_timeout_s: float) -> None:
        self._ray = ray
        self._options = options
        self.spec = spec
        self._restarts = restarts
        self._timeout = start_timeout_s
        self._probe: Any = None
        self._provenance: dict[SamplingParams, dict[str, JSONValue]] = {}
        info = self._ray.get(self._probe_actor().load.remote(spec), timeout=start_timeout_s)
        self.name: str = info.name
        self.model_id: str = info.version
        self.duplicates = 0  # samples delivered again by a retried batch, dropped here

    def _probe_actor(self) -> Any:
        from verigen.executors._workers import SampleWorker

        if self._probe is None:
            remote = self._ray.remote(num_cpus=self._options.sampler_cpus, num_gpus=self._options.sampler_gpus,
                                      max_restarts=0)(SampleWorker)
            self._probe = remote.remote(os.getcwd())
        return self._probe

    def _drop_probe(self) -> None:
        if self._probe is not None:
            probe, self._probe = self._probe, None
            self._ray.kill(probe, no_restart=True)

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        if params not in self._provenance:
            ref = self._probe_actor().provenance.remote(self.spec, params)
            self._provenance[params] = self._ray.get(ref, timeout=self._timeout)
        return self._provenance[params]

    def pipeline(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Any:
        """The dataset of sample rows for ``requests`` (lazy: nothing runs until iterated)."""
        import ray.data
        from ray.data import DataContext

        opts = self._options
        rows = [{"problem_id": r.problem_id, "messages": json.dumps([m.to_json() for m in r.messages]),
                 "indices": list(r.indices)} for r in requests]
        # request_batch requests a batch, smaller when there are too few to give every replica one
        step = max(1, min(opts.request_batch, -(-len(rows) // opts.samplers)))
        blocks = max(1, -(-len(rows) // step))
        ctx = DataContext.get_current()
        ctx.max_errored_blocks = 0  # a batch that fails every attempt fails the run
        ctx.execution_options.preserve_order = False  # samples as they are done; the engine keys them
        ctx.enable_progress_bars = False
        ctx.actor_init_max_retries = 0  # a model that does not load fails at once (no use trying again)
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        with warnings.catch_warnings():
            # Ray 2.60 warns that ``**ray_remote_args`` (max_restarts, max_task_retries) goes in
            # 2.64; verigen pins ray<2.61, and these two have no named parameter yet.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*is deprecated", category=DeprecationWarning)
            return self._map(ds, params, step)

    def _map(self, ds: Any, params: SamplingParams, step: int) -> Any:
        from ray.data import ActorPoolStrategy

        from verigen.executors._workers import GenerateBatch

        opts = self._options
        return ds.map_batches(
            GenerateBatch,
            fn_constructor_args=(os.getcwd(), self.spec, params),
            batch_size=step,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(size=opts.samplers, max_tasks_in_flight_per_actor=opts.in_flight),
            num_cpus=opts.sampler_cpus,
            num_gpus=opts.sampler_gpus or None,
            max_restarts=self._restarts,
            max_task_retries=opts.max_attempts - 1,
        )

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        self.provenance(params)  # asked for before the probe goes (the engine has, already)
        self._drop_probe()
        seen: set[tuple[str, int]] = set()
        for row in self.pipeline(requests, params).iter_rows():
            key = (str(row["problem_id"]), int(row["index"]))
            if key in seen:
                self.duplicates += 1
                log.warning("sample %s delivered twice by Ray Data (a retried batch): the second is dropped", key)
                continue
            seen.add(key)
            yield SampleOutput(problem_id=key[0], index=key[1], latency_s=_opt_float(row["latency_s"]),
                               completion=Completion(text=str(row["text"]), finish_reason=_opt_str(row["finish_reason"]),
                                                     prompt_tokens=_opt_int(row["prompt_tokens"]),
                                                     completion_tokens=_opt_int(row["completion_tokens"])))

    def close(self) -> None:
        self._drop_probe()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)

"""The ``--executor`` options that ``generate``, ``evaluate``, ``rest`` and ``selfplay`` share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from verigen.executors import ExecutorOptions

ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster).")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="host:port of an existing Ray cluster's head (default: a private one on 127.0.0.1).")]
RaySamplersOpt = Annotated[int | None, typer.Option("--ray-samplers", help="Sampler actors (model replicas) on Ray.")]
RayVerifiersOpt = Annotated[int | None, typer.Option("--ray-verifiers", help="Verifier actors on Ray.")]
RaySamplerGpusOpt = Annotated[float | None, typer.Option(
    "--ray-sampler-gpus", help="GPUs each sampler actor (model replica) reserves on Ray (default 0).")]
RayGenerationOpt = Annotated[str | None, typer.Option(
    "--ray-generation", help="actors (default: sampler actors kept up across stages) or data (a Ray Data "
                             "map_batches pipeline per stage).")]


def executor_options(executor: str, ray_address: str | None, ray_samplers: int | None,
                     ray_verifiers: int | None, ray_generation: str | None = None,
                     ray_sampler_gpus: float | None = None) -> ExecutorOptions:
    """The options as given; a bad value is a ``UsageError`` naming it (before anything runs)."""
    from verigen.executors import ExecutorOptions

    return ExecutorOptions.parse(executor, ray_address=ray_address, ray_samplers=ray_samplers,
                                 ray_verifiers=ray_verifiers, ray_generation=ray_generation,
                                 ray_sampler_gpus=ray_sampler_gpus)

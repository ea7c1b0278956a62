"""``verigen train`` (the M-step alone), ``verigen train-rm`` (a reward model), ``verigen
rest`` (the ReST-EM loop) and ``verigen selfreward`` (the self-rewarding loop)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.markup import escape

from verigen.cli_executor import (
    ExecutorOpt,
    RayAddressOpt,
    RayGenerationOpt,
    RaySamplerGpusOpt,
    RaySamplersOpt,
    RayVerifiersOpt,
    executor_options,
)
from verigen.config import Raw, apply_override, describe_error, load_toml
from verigen.errors import UsageError
from verigen.train._config import RMConfig, TrainConfig

out = Console()
err = Console(stderr=True)

SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: train.KEY=VALUE.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file with a train section (its train.* keys).")]


class _TrainFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    train: TrainConfig = Field(default_factory=TrainConfig)


def build_train_config(file: Path | None, sets: list[str]) -> TrainConfig:
    """[train] of ``file`` <- ``--set train.KEY=VALUE``; a bad key or value is a ``UsageError``."""
    raw: Raw = {}
    if file is not None:
        loaded = load_toml(file)
        raw = {"train": loaded.get("train", {})}
    for assignment in sets:
        raw = apply_override(raw, assignment, root=_TrainFile)
    try:
        return _TrainFile.model_validate(raw).train
    except ValidationError as exc:
        raise UsageError(describe_error(exc, raw)) from None


def train_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help="An SFT export (sft.jsonl: TRL conversational 'messages').")],
    model: Annotated[str, typer.Option("--model", "-m", help="'default', a local model folder, or a hub id.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder: checkpoint/ (safetensors) and train.json.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Fine-tune MODEL on an SFT export (loss on the completions only); the checkpoint loads as --model."""
    from verigen.sampling.model_store import resolve_model
    from verigen.train import train_sft

    cfg = build_train_config(config, list(set_ or []))
    resolve_model(model)  # a bad spec fails before anything loads
    result = train_sft(data, model, out_dir, cfg)
    what = "already trained, reused" if result.reused else f"{result.steps} steps in {result.seconds:.1f} s on {result.device}"
    loss = f", loss {result.train_loss:.4f}" if result.train_loss is not None else ""
    out.print(f"{result.rows} rows, {what}{loss} -> {escape(str(result.checkpoint))}", highlight=False)


class _RMFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rm: RMConfig = Field(default_factory=RMConfig)


def build_rm_config(file: Path | None, sets: list[str]) -> RMConfig:
    """[rm] of ``file`` <- ``--set rm.KEY=VALUE``; a bad key or value is a ``UsageError``."""
    raw: Raw = {}
    if file is not None:
        raw = {"rm": load_toml(file).get("rm", {})}
    for assignment in sets:
        raw = apply_override(raw, assignment, root=_RMFile)
    try:
        return _RMFile.model_validate(raw).rm
    except ValidationError as exc:
        raise UsageError(describe_error(exc, raw)) from None


def train_rm_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help=(
        "Preference pairs: an rm.jsonl, dpo.jsonl or rm_ranked.jsonl export (verigen export -f rm).")
    )],
    model: Annotated[str, typer.Option("--model", "-m", help="Base model: 'default', a local model folder, or a hub id.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder: checkpoint/ (safetensors) and train-rm.json.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML file with an rm section (its rm.* keys).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: rm.KEY=VALUE.")] = None,
) -> None:
    """Train a reward model (pairwise ranking loss) on preference pairs; reports held-out pairwise accuracy.

    The folder plugs into `verigen evaluate --select rm --rm-model OUT`.
    """
    from verigen.sampling.model_store import resolve_model
    from verigen.train import train_rm

    cfg = build_rm_config(config, list(set_ or []))
    resolve_model(model)  # a bad spec fails before anything loads
    result = train_rm(data, model, out_dir, cfg)
    m = result.manifest
    what = "already trained, reused" if result.reused else f"{m.get('steps')} steps in {m.get('seconds')} s on {m.get('device')}"
    first, last = m.get("loss_first"), m.get("loss_last")
    loss = f", loss {first:.4f} -> {last:.4f}" if isinstance(first, float) and isinstance(last, float) else ""
    out.print(f"{m.get('pairs')} pairs, {what}{loss} -> {escape(str(result.checkpoint))}", highlight=False)
    held = m.get("heldout")
    if isinstance(held, dict) and isinstance(held.get("accuracy"), float):
        before = held.get("accuracy_before")
        was = f" (untrained head {before:.3f})" if isinstance(before, float) else ""
        out.print(f"held-out pairwise accuracy {held['accuracy']:.3f}{was} on {held.get('pairs')} pairs of "
                  f"{held.get('prompts')} prompts", highlight=False)


def _eval_task(spec: str, limit: int | None, data_dir: Path | None) -> dict[str, object]:
    name, _, split = spec.partition(":")
    if not name.strip():
        raise UsageError(f"bad --eval-task {spec!r}: expected TASK or TASK:SPLIT")
    task: dict[str, object] = {"name": name.strip(), "split": split.strip() or "test"}
    if limit is not None:
        task["limit"] = limit
    if data_dir is not None:
        task["data_dir"] = str(data_dir)
    return task


def rest_cmd(
    task: Annotated[str | None, typer.Option("--task", "-t", help="Training task (its train split unless task.split).")] = None,
    eval_task: Annotated[list[str] | None, typer.Option("--eval-task", help="Held-out TASK or TASK:SPLIT (repeatable).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Base model: 'default', a folder, or a hub id.")] = None,
    backend: Annotated[str | None, typer.Option("--backend", "-b", help="E-step / evaluation sampler: transformers or vllm.")] = None,
    iterations: Annotated[int | None, typer.Option("--iterations", "-k", min=1, help="ReST-EM iterations after iteration 0.")] = None,
    n: Annotated[int | None, typer.Option("-n", min=1, help="Samples per problem (E-step and evaluation).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-l", min=1, help="At most this many training problems.")] = None,
    eval_limit: Annotated[int | None, typer.Option("--eval-limit", min=1, help="At most this many problems per --eval-task.")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Local benchmark data (else VERIGEN_DATA_DIR).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Loop directory (resumed when it holds this loop).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML loop config (task, train, rest...).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: section.key=value.")] = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_samplers: RaySamplersOpt = None,
    ray_verifiers: RayVerifiersOpt = None,
    ray_generation: RayGenerationOpt = None,
    ray_sampler_gpus: RaySamplerGpusOpt = None,
) -> None:
    """ReST-EM: sample, verify, fine-tune the base model, evaluate held-out and train; repeat.

    With --executor ray, sampling and verification run on Ray actors (kept up for the whole
    loop); the M-step trains here, on the driver.
    """
    from verigen.loops import RestLoop, build_loop_config
    from verigen.progress import RichProgress

    where = executor_options(executor, ray_address, ray_samplers, ray_verifiers, ray_generation,
                             ray_sampler_gpus)

    base: dict[str, object] = {}
    t = {k: v for k, v in {"name": task, "limit": limit, "data_dir": str(data_dir) if data_dir else None}.items() if v is not None}
    if t:
        base["task"] = t
    m = {k: v for k, v in {"name": model, "backend": backend}.items() if v is not None}
    if m:
        base["model"] = m
    if n is not None:
        base["sampling"] = {"n": n}
    rest: dict[str, object] = {}
    if iterations is not None:
        rest["iterations"] = iterations
    if eval_task:
        rest["eval_tasks"] = [_eval_task(s, eval_limit, data_dir) for s in eval_task]
    if rest:
        base["rest"] = rest
    cfg = build_loop_config(base=base, overrides=list(set_ or []), file=config)
    if data_dir is not None:  # also for the held-out tasks of a config file that name no data dir
        tasks = [t if t.data_dir else t.model_copy(update={"data_dir": data_dir}) for t in cfg.rest.eval_tasks]
        cfg = cfg.model_copy(update={"rest": cfg.rest.model_copy(update={"eval_tasks": tasks})})
    target = out_dir or Path("runs") / f"rest-{cfg.task.name}"
    with RichProgress(err) as progress:
        manifest = RestLoop(cfg, target, progress, executor=where).run()
    out.print(f"loop: {escape(str(target / 'loop.json'))}  report: {escape(str(target / 'report.md'))}", highlight=False)
    from verigen.loops._rest_report import table_rows

    raw = manifest.get("per_iteration")
    for line in table_rows(list(raw) if isinstance(raw, list) else []):
        out.print(escape(line), highlight=False)


def selfreward_cmd(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Base model: 'default', a folder, or a hub id.")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", "-b", help="Sampler and judge: transformers or vllm (fake: dry runs).")] = None,
    prompts: Annotated[Path | None, typer.Option(
        "--prompts", help="Seed prompts: JSONL with prompt/instruction/question or messages.")] = None,
    task: Annotated[str | None, typer.Option(
        "--task", "-t", help="Seed prompts from this task's train split (instead of --prompts).")] = None,
    task_arg: Annotated[list[str] | None, typer.Option("--task-arg", help="Task argument KEY=VALUE.")] = None,
    iterations: Annotated[int | None, typer.Option("--iterations", "-k", min=1, help="Self-rewarding iterations.")] = None,
    new_prompts: Annotated[int | None, typer.Option("--new-prompts", min=1, help="Prompts the model writes per iteration.")] = None,
    n: Annotated[int | None, typer.Option("-n", min=2, help="Responses per prompt (judged; best vs worst is a pair).")] = None,
    seed_limit: Annotated[int | None, typer.Option("--seed-limit", min=1, help="At most this many seed prompts.")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Local benchmark data (else VERIGEN_DATA_DIR).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Loop directory (resumed when it holds this loop).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="TOML loop config (model, train and selfreward sections).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config key: section.key=value.")] = None,
) -> None:
    """Self-rewarding LM: write prompts, answer, judge own answers, DPO on best vs worst; repeat."""
    from verigen.loops import SelfRewardLoop, build_selfreward_config
    from verigen.progress import RichProgress
    from verigen.task import parse_task_args

    if prompts is not None and task is not None:
        raise UsageError("give either --prompts FILE or --task T as the seed prompts, not both")
    named = any(s.startswith(("selfreward.prompts_file=", "selfreward.task=")) for s in set_ or [])
    if prompts is None and task is None and config is None and not named:
        raise UsageError("selfreward needs seed prompts: --prompts FILE (JSONL) or --task T (its train problems)")
    base: dict[str, object] = {}
    m = {k: v for k, v in {"name": model, "backend": backend}.items() if v is not None}
    if m:
        base["model"] = m
    section = {k: v for k, v in {
        "prompts_file": str(prompts) if prompts else None, "task": task, "iterations": iterations,
        "new_prompts": new_prompts, "n": n, "seed_limit": seed_limit, "data_dir": str(data_dir) if data_dir else None,
        "task_args": parse_task_args(list(task_arg)) if task_arg else None}.items() if v is not None}
    base["selfreward"] = section
    cfg = build_selfreward_config(base=base, overrides=list(set_ or []), file=config)
    target = out_dir or Path("runs") / "selfreward"
    with RichProgress(err) as progress:
        manifest = SelfRewardLoop(cfg, target, progress).run()
    links = manifest.get("iterations")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict):
            continue
        it = _read_json(Path(str(link.get("manifest"))))
        p, j, d = (_section_of(it, key) for key in ("prompts", "judge", "pairs"))
        out.print(f"iteration {link.get('iteration')}: prompts {p.get('kept')}/{p.get('requested')}  "
                  f"responses {j.get('responses')}  unparseable judgements {j.get('unparseable_judgements')}/"
                  f"{j.get('judgements')}  pairs {d.get('pairs')}  -> {escape(str(link.get('policy_after')))}",
                  highlight=False)
    out.print(f"loop: {escape(str(target / 'loop.json'))}", highlight=False)


def _read_json(path: Path) -> dict[str, object]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _section_of(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}

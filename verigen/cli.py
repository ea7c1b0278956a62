"""The ``verigen`` command line: thin wrappers, one subcommand per stage.

Bad input (config, arguments, data) prints one line ``error: ...`` and exits with code 2.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
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
from verigen.cli_tasks import app as tasks_app
from verigen.errors import UsageError
from verigen.task import parse_task_args

if TYPE_CHECKING:
    from verigen.config import ModelConfig, OutputConfig
    from verigen.executors import ExecutorOptions

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Verifier-driven synthetic data for code and math.")
check_app = typer.Typer(no_args_is_help=True, help="Verify answers without sampling.")
app.add_typer(tasks_app, name="tasks")
app.add_typer(check_app, name="check")

out = Console()
err = Console(stderr=True)


def _mount_sandbox() -> None:
    try:
        from verigen.cli_sandbox import app as sandbox_app
    except ImportError:
        return
    app.add_typer(sandbox_app, name="sandbox", help="Run programs in a sandbox; check and build backends.")


_mount_sandbox()


def _mount_training() -> None:
    from verigen.cli_train import rest_cmd, selfreward_cmd, train_cmd, train_rm_cmd

    app.command("train")(train_cmd)
    app.command("train-rm")(train_rm_cmd)
    app.command("rest")(rest_cmd)
    app.command("selfreward")(selfreward_cmd)


_mount_training()


# Options shared by generate and evaluate -------------------------------------------------

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML run config.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: section.key=value.")]
TaskOpt = Annotated[str | None, typer.Option("--task", "-t", help="Task name (see `verigen tasks list`).")]
TaskArgOpt = Annotated[list[str] | None, typer.Option("--task-arg", help="Task argument KEY=VALUE.")]
SplitOpt = Annotated[str | None, typer.Option("--split", help="Problem split.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Problem seed.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-l", help="At most this many problems.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="'default', a local model folder, or a hub id.")]
BackendOpt = Annotated[str | None, typer.Option("--backend", "-b", help="transformers, vllm, openai, llamacpp, fake.")]
NOpt = Annotated[int | None, typer.Option("-n", help="Samples per problem.")]
TempOpt = Annotated[float | None, typer.Option("--temperature")]
TopPOpt = Annotated[float | None, typer.Option("--top-p")]
MaxTokOpt = Annotated[int | None, typer.Option("--max-tokens")]
StopOpt = Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="transformers: sequences per batch (model.batch_size).")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="transformers: auto, cpu or cuda (model.device).")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Local benchmark data (else VERIGEN_DATA_DIR).")]
SandboxOpt = Annotated[str | None, typer.Option("--sandbox", help="auto, bwrap or docker.")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Verifier workers.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory.")]
SelectOpt = Annotated[str | None, typer.Option(
    "--select", help=("evaluate: best-of-n@k of these Best-of-N strategies (comma list: oracle, majority, likelihood, "
                      "judge, rm); generate: one strategy, whose pick per problem is kept in selected.jsonl "
                      "(judge: only a pick scored at least --judge-threshold)."))]
ScorerOpt = Annotated[str | None, typer.Option(
    "--scorer-model", help="Causal LM scoring --select likelihood (or the reward model of --select rm without likelihood).")]
RMModelOpt = Annotated[str | None, typer.Option(
    "--rm-model", help="Reward model scoring --select rm: a `verigen train-rm` output folder or its checkpoint/.")]
JudgeModelOpt = Annotated[str | None, typer.Option(
    "--judge-model", help="--select judge: the judge (same backend as the run; default: the run's own model).")]
JudgeThresholdOpt = Annotated[float | None, typer.Option(
    "--judge-threshold", min=0.0, max=5.0, help="--select judge: score >= this counts as 'judged correct' (default 3).")]


def _section(**values: object) -> dict[str, object]:
    return {k: v for k, v in values.items() if v is not None}


def _run(mode: str, config_file: Path | None, sets: list[str] | None, executor: ExecutorOptions,
         **opts: object) -> None:
    from verigen.config import build_config

    strategies = _strategies(mode, opts.pop("select"), opts.pop("scorer_model"), opts.pop("rm_model"))  # type: ignore[arg-type]
    judge_opts = _judge_options(strategies, opts.pop("judge_model"), opts.pop("judge_threshold"))  # type: ignore[arg-type]

    base: dict[str, object] = {"mode": mode}
    task_args = parse_task_args(list(opts.pop("task_args") or []))  # type: ignore[call-overload]
    sections = {
        "task": _section(name=opts["task"], split=opts["split"], seed=opts["seed"], limit=opts["limit"],
                         data_dir=str(opts["data_dir"]) if opts["data_dir"] else None,
                         args=task_args or None),
        "model": _section(name=opts["model"], backend=opts["backend"], batch_size=opts["batch_size"], device=opts["device"]),
        "sampling": _section(n=opts["n"], temperature=opts["temperature"], top_p=opts["top_p"],
                             max_tokens=opts["max_tokens"], stop=opts["stop"] or None),
        "verify": _section(workers=opts["workers"]),
        "sandbox": _section(backend=opts["sandbox"]),
        "output": _section(out=str(opts["out"]) if opts["out"] else None),
    }
    base.update({k: v for k, v in sections.items() if v})
    config = build_config(base=base, overrides=list(sets or []), file=config_file)
    from verigen.engine import ErrorRateExceeded, plan
    from verigen.executors import run
    from verigen.progress import RichProgress
    from verigen.summary import print_summary

    p = plan(config)
    if p.config.mode == "generate":
        from verigen.export import refuse_heldout

        refuse_heldout(p.config.output, p.task.name, p.split)  # before anything is sampled
    try:
        with RichProgress(err) as progress:
            summary = run(p, progress, executor)
    except ErrorRateExceeded as exc:
        print_summary(out, exc.summary)
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    print_summary(out, summary)
    if strategies is not None:
        if p.config.mode == "generate":
            _keep_picks(p.out, *strategies, device=p.config.model.model_dump().get("device"),
                        judge=(p.config.model, *judge_opts) if judge_opts else None)
        else:
            _print_selection(p.out, *strategies, device=p.config.model.model_dump().get("device"),
                             judge=(p.config.model, *judge_opts) if judge_opts else None)
            from verigen.report import write_report

            # The report again, now with the best-of-N section and curve (selection.json).
            write_report(p.out, html=p.config.output.report_html, plots=p.config.output.report_plots)


def _strategies(mode: str, select: str | None, scorer: str | None,
                rm_model: str | None) -> tuple[tuple[str, ...], str | None, str | None] | None:
    """Checked before anything runs: strategy names, likelihood scorer, reward model."""
    if select is None:
        if scorer is not None:
            raise UsageError("--scorer-model is only used with --select likelihood or rm")
        if rm_model is not None:
            raise UsageError("--rm-model is only used with --select rm")
        return None
    from verigen.select import parse_strategies, rm_spec

    names = parse_strategies(select)
    if mode == "generate" and len(names) != 1:
        raise UsageError(f"generate --select keeps one strategy's pick per problem as data: give one, not {select!r}")
    if "likelihood" in names and not scorer:
        raise UsageError("--select likelihood needs --scorer-model (a causal LM: 'default', a folder or hub id)")
    if "likelihood" not in names and "rm" not in names and scorer is not None:
        raise UsageError("--scorer-model is only used with --select likelihood or rm")
    rm = rm_spec(names, scorer, rm_model)
    if rm is not None:
        from verigen.train import resolve_reward_model

        resolve_reward_model(rm, option="--rm-model" if rm_model else "--scorer-model")  # a bad folder fails now
    return names, scorer if "likelihood" in names else None, rm


def _judge_options(strategies: tuple[tuple[str, ...], str | None, str | None] | None, judge_model: str | None,
                   threshold: float | None) -> tuple[str | None, float] | None:
    """(judge model or None for the run's own, threshold) for --select judge; checked before anything runs."""
    if strategies is None or "judge" not in strategies[0]:
        if judge_model is not None or threshold is not None:
            raise UsageError("--judge-model and --judge-threshold are only used with --select judge")
        return None
    return judge_model, 3.0 if threshold is None else threshold


def _print_selection(run_dir: Path, names: tuple[str, ...], scorer: str | None, rm_model: str | None, *,
                     device: object, judge: tuple[ModelConfig, str | None, float] | None = None) -> None:
    from rich.table import Table

    from verigen.runview import load_run
    from verigen.select import select_run

    dev = device if isinstance(device, str) and device != "auto" else "cpu"
    if judge is None:
        report = select_run(load_run(run_dir), names, scorer_model=scorer, rm_model=rm_model, device=dev)
    else:
        from verigen.judge import JudgeConfig, open_judge
        from verigen.select import JudgeSetup

        model_cfg, judge_model, threshold = judge
        sampler = open_judge(model_cfg, judge_model)
        try:
            setup = JudgeSetup(sampler=sampler, config=JudgeConfig(threshold=threshold))
            report = select_run(load_run(run_dir), names, scorer_model=scorer, rm_model=rm_model, device=dev,
                                judge=setup)
        finally:
            sampler.close()
    ks = sorted({k for c in report.curves for k in c.at_k})
    table = Table("strategy", *(f"best-of-n@{k}" for k in ks), title="Best-of-N (selection.json)")
    for c in report.curves:
        table.add_row(c.strategy, *("-" if c.at_k.get(k) is None else f"{c.at_k[k]:.3f}" for k in ks))
    out.print(table)
    if report.judge_agreement is not None:
        _print_agreement(report.judge_agreement, report.judge_model)


def _print_agreement(a: object, model: str | None) -> None:
    from rich.table import Table

    from verigen.judge import JudgeAgreement

    if not isinstance(a, JudgeAgreement):
        raise TypeError(a)

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    table = Table("scored", "accepted", "rejected", "unparseable", f"acc (>={a.threshold:g})", "AUC",
                  "mean acc/rej", title="Judge vs verifier (selection.json)")
    table.add_row(f"{a.scored}/{a.samples}", str(a.positives), str(a.negatives),
                  f"{a.unparseable_judgements}/{a.judgements}", f(a.accuracy), f(a.auc),
                  f"{f(a.mean_score_accepted)}/{f(a.mean_score_rejected)}")
    out.print(table)
    out.print(f"judge: {escape(model or '?')}", highlight=False)


def _keep_picks(run_dir: Path, names: tuple[str, ...], scorer: str | None, rm_model: str | None, *,
                device: object, judge: tuple[ModelConfig, str | None, float] | None = None) -> None:
    from verigen.export._picked import pick_samples, write_picks
    from verigen.runview import load_run
    from verigen.types import Outcome

    dev = device if isinstance(device, str) and device != "auto" else "cpu"
    view = load_run(run_dir)
    if judge is None:
        picks = pick_samples(view, names[0], scorer_model=scorer, rm_model=rm_model, device=dev)
    else:
        from verigen.judge import JudgeConfig, open_judge
        from verigen.select import JudgeSetup

        model_cfg, judge_model, threshold = judge
        sampler = open_judge(model_cfg, judge_model)
        try:
            setup = JudgeSetup(sampler=sampler, config=JudgeConfig(threshold=threshold))
            picks = pick_samples(view, names[0], device=dev, judge=setup)
        finally:
            sampler.close()
    path = write_picks(view, picks)
    verified = sum(1 for p in picks if p.record.verdict.outcome is Outcome.ACCEPTED)
    out.print(f"--select {names[0]}: {len(picks)} picks ({verified} of them verified) -> {escape(str(path))}",
              highlight=False)


def _run_command(mode: str, doc: str) -> Callable[..., None]:
    """generate and evaluate take the same options; only the mode differs."""

    def command(
        config: ConfigOpt = None, set_: SetOpt = None, task: TaskOpt = None, task_arg: TaskArgOpt = None,
        split: SplitOpt = None, seed: SeedOpt = None, limit: LimitOpt = None, model: ModelOpt = None,
        backend: BackendOpt = None, n: NOpt = None, temperature: TempOpt = None, top_p: TopPOpt = None,
        max_tokens: MaxTokOpt = None, stop: StopOpt = None, batch_size: BatchOpt = None,
        device: DeviceOpt = None, data_dir: DataOpt = None, sandbox: SandboxOpt = None,
        workers: WorkersOpt = None, out_dir: OutOpt = None, executor: ExecutorOpt = "local",
        ray_address: RayAddressOpt = None, ray_samplers: RaySamplersOpt = None, ray_verifiers: RayVerifiersOpt = None,
        ray_generation: RayGenerationOpt = None,
        ray_sampler_gpus: RaySamplerGpusOpt = None, select: SelectOpt = None, scorer_model: ScorerOpt = None,
        rm_model: RMModelOpt = None,
        judge_model: JudgeModelOpt = None, judge_threshold: JudgeThresholdOpt = None,
    ) -> None:
        where = executor_options(executor, ray_address, ray_samplers, ray_verifiers, ray_generation,
                             ray_sampler_gpus)
        _run(mode, config, set_, where, task=task, task_args=task_arg, split=split, seed=seed, limit=limit,
             model=model, backend=backend, n=n, temperature=temperature, top_p=top_p,
             max_tokens=max_tokens, stop=stop, batch_size=batch_size, device=device,
             data_dir=data_dir, sandbox=sandbox, workers=workers, out=out_dir, select=select,
             scorer_model=scorer_model, rm_model=rm_model, judge_model=judge_model,
             judge_threshold=judge_threshold)

    command.__doc__ = doc
    return command


app.command("generate")(_run_command(
    "generate", "Problems -> samples -> verdicts -> sft.jsonl + samples.jsonl + metrics.json."))
app.command("evaluate")(_run_command(
    "evaluate", "pass@k / maj@k on a held-out split; writes samples and metrics, no training data."))


# Outputs of a finished run: exports, report, decontamination -----------------------------

DEFAULT_AGAINST = "gsm8k,math,math500,humaneval,mbpp,p3"
RunDirArg = Annotated[Path, typer.Argument(help="A run directory written by generate or evaluate.")]


@app.command("export")
def export_cmd(
    run_dir: RunDirArg,
    formats: Annotated[list[str], typer.Option("--format", "-f", help="sft, dpo, rm or hf (repeatable).")],
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Output file (one --format), or folder for hf.")] = None,
    set_: SetOpt = None,
    data_dir: DataOpt = None,
    push_to_hub: Annotated[str | None, typer.Option("--push-to-hub", help="Also push the hf export to this hub repo.")] = None,
) -> None:
    """Write SFT / DPO / reward-model / Hugging Face exports of a run (after decontamination).

    Settings come from the run's [output] config; --set output.KEY=VALUE overrides them.
    """
    from verigen.export import export_run

    output = _output_overrides(run_dir, set_)
    if push_to_hub and "hf" not in formats:
        raise UsageError("--push-to-hub needs --format hf")
    summary = export_run(run_dir, formats, out=out_path, output=output, data_dir=data_dir, push_to_hub=push_to_hub)
    for kind, path in summary.files.items():
        out.print(f"{kind}: {summary.rows.get(kind, '')} rows -> {escape(path)}" if kind != "hf" else f"hf: {escape(path)}")
    _print_contamination(summary.contamination)


def _output_overrides(run_dir: Path, sets: list[str] | None) -> OutputConfig:
    from verigen.config import build_config

    cfg_file = run_dir / "config.toml"
    if not cfg_file.exists():
        raise UsageError(f"{str(run_dir)!r} is not a verigen run directory (no config.toml)")
    bad = [s for s in sets or [] if not s.startswith("output.")]
    if bad:
        raise UsageError(f"bad --set {bad[0]!r}: export only takes output.* settings")
    return build_config(file=cfg_file, overrides=list(sets or [])).output


def _print_contamination(c: object) -> None:
    from verigen.decontam import Contamination

    if not isinstance(c, Contamination):
        return
    for b in c.benchmarks:
        counts = c.counts().get(b.name, {})
        dropped = f"{counts.get('problems', 0)} problems, {counts.get('samples', 0)} samples dropped"
        extra = dropped if b.status == "checked" else b.reason
        err.print(f"decontam {escape(b.name)}: {b.status} ({escape(extra)})", highlight=False)


@app.command("report")
def report_cmd(
    run_dir: RunDirArg,
    compare: Annotated[list[Path] | None, typer.Option("--compare", help="Another run to put side by side (repeatable).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the report (default: the run directory).")] = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Only report.md and plots.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="No PNG plots (no matplotlib needed).")] = False,
) -> None:
    """Rebuild report.md, plots/ and report.html of a run (with --compare: runs side by side)."""
    from verigen.report import write_report

    files = write_report(run_dir, compare=list(compare or []), html=not no_html, plots=not no_plots, out_dir=out_dir)
    out.print(f"report: {escape(str(files.markdown))}" + (f"  {escape(str(files.html))}" if files.html else ""))


@app.command("decontam")
def decontam_cmd(
    file: Annotated[Path, typer.Argument(help="JSONL of problems or chat rows (prompt/question/problem/messages...).")],
    against: Annotated[str, typer.Option("--against", help="Comma list of benchmarks or .jsonl paths.")] = DEFAULT_AGAINST,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="Clean rows (default: FILE with .clean.jsonl).")] = None,
    ngram: Annotated[int, typer.Option("--ngram", min=3, help="Word n-gram length.")] = 13,
    min_shared: Annotated[int, typer.Option("--min-shared", min=1, help="Shared n-grams that make a row contaminated.")] = 1,
    data_dir: DataOpt = None,
) -> None:
    """Drop the rows of FILE that overlap held-out benchmarks; hits go to FILE.contamination.jsonl."""
    from verigen.decontam.cli import decontaminate_file

    names = [a.strip() for a in against.split(",") if a.strip()]
    if not names:
        raise UsageError("--against is empty: name at least one benchmark")
    result = decontaminate_file(file, names, out=out_path, ngram=ngram, min_shared=min_shared, data_dir=data_dir)
    out.print(f"{result.kept} rows kept -> {escape(str(result.clean))}; {result.dropped} dropped -> {escape(str(result.hits))}")
    _print_contamination(result.contamination)


@check_app.command("math")
def check_math(
    reference: Annotated[str | None, typer.Option("--reference", "-r", help="Gold answer.")] = None,
    answer: Annotated[str | None, typer.Option("--answer", "-a", help="Candidate text or answer.")] = None,
    input_file: Annotated[Path | None, typer.Option("--input", "-i", help="JSONL with reference and answer.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output JSONL (default: stdout).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 2,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.01)] = 5.0,
) -> None:
    """Verify math answers: one pair (--reference/--answer) or a JSONL batch (--input)."""
    from verigen.check import check_math_batch, check_math_one

    if input_file is not None:
        if reference is not None or answer is not None:
            raise UsageError("use either --input or --reference/--answer, not both")
        counts = check_math_batch(input_file, output, workers=workers, time_limit_s=time_limit)
        err.print("  ".join(f"{k}: {v}" for k, v in counts.items()))
        return
    if reference is None or answer is None:
        raise UsageError("check math needs --reference and --answer (or --input FILE)")
    verdict = check_math_one(reference, answer, time_limit_s=time_limit)
    _print_verdict(verdict, as_json)


@check_app.command("problem")
def check_problem(
    task: Annotated[str, typer.Option("--task", "-t")],
    problem: Annotated[str, typer.Option("--problem", "-p", help="Problem id.")],
    answer: Annotated[str | None, typer.Option("--answer", "-a")] = None,
    answer_file: Annotated[Path | None, typer.Option("--answer-file", "-f")] = None,
    task_arg: TaskArgOpt = None,
    split: SplitOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    data_dir: DataOpt = None,
    sandbox: Annotated[str, typer.Option("--sandbox")] = "auto",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify one candidate for one problem of a task."""
    from verigen.check import check_task_problem

    if (answer is None) == (answer_file is None):
        raise UsageError("give exactly one of --answer and --answer-file")
    if answer_file is not None:
        try:
            answer = answer_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--answer-file {str(answer_file)!r}: {exc.strerror}") from None
    assert answer is not None
    verdict = check_task_problem(
        task, problem, answer, task_args=parse_task_args(list(task_arg or [])), split=split,
        seed=seed, data_dir=data_dir, sandbox=sandbox,
    )
    _print_verdict(verdict, as_json)


@check_app.command("puzzle")
def check_puzzle_cmd(
    file: Annotated[Path, typer.Option("--file", help="The puzzle: Python source defining sat(x: T, ...).")],
    solution: Annotated[list[Path] | None,
                        typer.Option("--solution", help="A candidate solution defining sol() (repeatable).")] = None,
    sandbox: Annotated[str, typer.Option("--sandbox")] = "auto",
    data_dir: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Self-play admission verdict for one puzzle: keep, drop (with the stage and reason) or error.

    Exit code 0 for keep or drop, 1 for an infrastructure error (neither keep nor drop).
    """
    from verigen.check import check_puzzle

    texts = [_read_text(file, "--file")] + [_read_text(s, "--solution") for s in solution or []]
    verdict, note = check_puzzle(texts[0], texts[1:], sandbox=sandbox, data_dir=data_dir)
    if as_json:
        sys.stdout.write(json.dumps({**verdict.to_json(), "note": note}, ensure_ascii=False) + "\n")
    else:
        color = {"keep": "green", "drop": "red", "error": "magenta"}[verdict.status]
        out.print(f"[{color}]{verdict.status}[/{color}]  {verdict.stage}: {escape(verdict.reason)}", highlight=False)
        if note:
            err.print(escape(note), highlight=False)
    if verdict.status == "error":
        raise typer.Exit(1)


def _read_text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option} {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from None


@app.command("selfplay")
def selfplay_cmd(
    model: ModelOpt = None,
    backend: BackendOpt = None,
    seed_task: Annotated[str, typer.Option("--seed-task", help="Puzzle task whose train puzzles are the few-shot examples.")] = "p3",
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 1,
    puzzles: Annotated[int, typer.Option("--puzzles", min=1, help="Puzzles written per round.")] = 16,
    attempts: Annotated[int, typer.Option("--attempts", min=1, help="Solutions sampled per puzzle.")] = 4,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help=(
        "Output folder: new, empty, or an earlier selfplay run with the same settings (resumed after its last "
        "round; a larger --rounds extends it)."))] = Path("runs/selfplay"),
    fewshot: Annotated[int, typer.Option("--fewshot", min=1, max=16)] = 3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0)] = 0.8,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 384,
    set_: SetOpt = None,
    data_dir: DataOpt = None,
    sandbox: SandboxOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 2,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_samplers: RaySamplersOpt = None,
    ray_verifiers: RayVerifiersOpt = None,
    ray_generation: RayGenerationOpt = None,
    ray_sampler_gpus: RaySamplerGpusOpt = None,
) -> None:
    """Self-taught puzzles: the model writes P3 puzzles, verigen keeps those that prove themselves.

    Writes OUT/p3/puzzles.json (+ split.json; load with --task p3 --data-dir OUT --split train),
    sft.jsonl, rounds.jsonl (counts per round) and puzzles.jsonl (every puzzle's verdict).
    The same command again resumes after the last finished round.
    --set model.KEY=VALUE sets backend options. With --executor ray the puzzles and solutions
    are sampled and the solutions checked on Ray actors (up for every round); screening and
    the output files stay here.
    """
    from verigen.config import build_config
    from verigen.engine import SamplerSpec, check_model
    from verigen.executors import session
    from verigen.selfplay import (
        AdmissionConfig,
        PuzzleVerifierSpec,
        SelfPlayConfig,
        check_out,
        run_selfplay,
        selfplay_settings,
    )
    from verigen.task import TaskContext, create_task
    from verigen.types import SamplingParams

    where = executor_options(executor, ray_address, ray_samplers, ray_verifiers, ray_generation,
                             ray_sampler_gpus)

    bad = [s for s in set_ or [] if not s.startswith("model.")]
    if bad:
        raise UsageError(f"bad --set {bad[0]!r}: selfplay only takes model.* settings")
    base: dict[str, object] = {"model": _section(name=model, backend=backend)}
    config = build_config(base=base, overrides=list(set_ or []))
    task = create_task(seed_task, {}, TaskContext.from_env(data_dir, sandbox or config.sandbox.backend))
    params = SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=seed,
                            top_p=config.sampling.top_p)
    sp = SelfPlayConfig(rounds=rounds, puzzles=puzzles, attempts=attempts, fewshot=fewshot, seed=seed,
                        write_params=params, solve_params=params, admission=AdmissionConfig(workers=workers))
    spec = SamplerSpec(backend=config.model.backend, model=config.model.name, options=check_model(config.model))
    check_out(out_dir, selfplay_settings(sp, task, None))  # before a model loads or a cluster starts
    with session(where) as workers_at:
        counts = run_selfplay(sampler=workers_at.sampler(spec), seed_task=task, out=out_dir, config=sp,
                              progress=lambda line: err.print(escape(line), highlight=False),
                              pool=workers_at.pool(PuzzleVerifierSpec(sandbox=task.ctx.sandbox), workers=workers))
    for c in counts:
        out.print(f"round {c.round}: generated {c.generated}  parsed {c.parsed}  non-trivial {c.non_trivial}  "
                  f"solved {c.solved}  kept {c.kept}  errors {c.errors}", highlight=False)
    out.print(f"-> {escape(str(out_dir))}", highlight=False)


def _print_verdict(verdict: object, as_json: bool) -> None:
    from verigen.types import Verdict

    if not isinstance(verdict, Verdict):
        raise TypeError(verdict)
    if as_json:
        sys.stdout.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
        return
    color = {"accepted": "green", "rejected": "red", "error": "magenta"}.get(verdict.outcome.value, "yellow")
    out.print(f"[{color}]{verdict.outcome.value}[/{color}]  answer={escape(repr(verdict.answer))}  {escape(verdict.detail)}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        # standalone_mode=False hands back typer.Exit codes instead of exiting itself.
        rc = app(standalone_mode=False)
    except UsageError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted: the run directory keeps every finished sample; rerun to resume")
        sys.exit(130)
    except Exception as exc:  # click's usage errors (typer >= 0.2x raises its own copy of click's classes)
        import click

        typer_click = tuple(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
        if isinstance(exc, (click.exceptions.ClickException, *typer_click)):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()

"""The ``verigen`` command line: thin wrappers, one subcommand per stage.

Bad input (config, arguments, data) prints one line ``error: ...`` and exits with code 2.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from verigen.cli_tasks import app as tasks_app
from verigen.errors import UsageError
from verigen.task import parse_task_args

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


# Options shared by generate and evaluate -------------------------------------------------

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML run config.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a config key: section.key=value.")]
TaskOpt = Annotated[str | None, typer.Option("--task", "-t", help="Task name (see `verigen tasks list`).")]
TaskArgOpt = Annotated[list[str] | None, typer.Option("--task-arg", help="Task argument KEY=VALUE.")]
SplitOpt = Annotated[str | None, typer.Option("--split", help="Problem split.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Problem seed.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-l", help="At most this many problems.")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="'default', a local model folder, or a hub id.")]
BackendOpt = Annotated[str | None, typer.Option("--backend", "-b", help="Sampler backend: transformers, fake, ...")]
NOpt = Annotated[int | None, typer.Option("-n", help="Samples per problem.")]
TempOpt = Annotated[float | None, typer.Option("--temperature")]
TopPOpt = Annotated[float | None, typer.Option("--top-p")]
MaxTokOpt = Annotated[int | None, typer.Option("--max-tokens")]
StopOpt = Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cpu or cuda.")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Local benchmark data (else VERIGEN_DATA_DIR).")]
SandboxOpt = Annotated[str | None, typer.Option("--sandbox", help="auto, bwrap or docker.")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Verifier workers.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory.")]


def _section(**values: object) -> dict[str, object]:
    return {k: v for k, v in values.items() if v is not None}


def _run(mode: str, config_file: Path | None, sets: list[str] | None, **opts: object) -> None:
    from verigen.config import build_config

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
    from verigen.pipeline import execute, plan
    from verigen.progress import RichProgress

    p = plan(config)
    with RichProgress(err) as progress:
        summary = execute(p, progress)
    from verigen.summary import print_summary

    print_summary(out, summary)
    if summary.error_rate_exceeded:
        err.print(
            f"[red]error rate {summary.metrics.error_rate:.1%} is above the limit "
            f"{summary.max_error_rate:.1%}: infrastructure faults, see samples.jsonl verdict details[/red]"
        )
        raise typer.Exit(1)


def _run_command(mode: str, doc: str) -> Callable[..., None]:
    """generate and evaluate take the same options; only the mode differs."""

    def command(
        config: ConfigOpt = None, set_: SetOpt = None, task: TaskOpt = None, task_arg: TaskArgOpt = None,
        split: SplitOpt = None, seed: SeedOpt = None, limit: LimitOpt = None, model: ModelOpt = None,
        backend: BackendOpt = None, n: NOpt = None, temperature: TempOpt = None, top_p: TopPOpt = None,
        max_tokens: MaxTokOpt = None, stop: StopOpt = None, batch_size: BatchOpt = None,
        device: DeviceOpt = None, data_dir: DataOpt = None, sandbox: SandboxOpt = None,
        workers: WorkersOpt = None, out_dir: OutOpt = None,
    ) -> None:
        _run(mode, config, set_, task=task, task_args=task_arg, split=split, seed=seed, limit=limit,
             model=model, backend=backend, n=n, temperature=temperature, top_p=top_p,
             max_tokens=max_tokens, stop=stop, batch_size=batch_size, device=device,
             data_dir=data_dir, sandbox=sandbox, workers=workers, out=out_dir)

    command.__doc__ = doc
    return command


app.command("generate")(_run_command(
    "generate", "Problems -> samples -> verdicts -> sft.jsonl + samples.jsonl + metrics.json."))
app.command("evaluate")(_run_command(
    "evaluate", "pass@k / maj@k on a held-out split; writes samples and metrics, no training data."))


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
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()

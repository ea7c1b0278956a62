"""``verigen tasks``: list, describe, scaffold and self-check task plugins."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from verigen.errors import UsageError
from verigen.task import TaskContext, parse_task_args

app = typer.Typer(no_args_is_help=True, help="Task plugins: list, info, new, check.")
out = Console()
err = Console(stderr=True)

TaskArgOpt = Annotated[list[str] | None, typer.Option("--task-arg", help="Task argument KEY=VALUE.")]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Local benchmark data (else VERIGEN_DATA_DIR).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON output.")]


def _emit(row: Mapping[str, object]) -> None:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


@app.command("list")
def tasks_list(as_json: JsonOpt = False) -> None:
    """Registered tasks (imports only the plugin modules, none of their heavy dependencies).

    A plugin that cannot be loaded is listed apart with the reason; the others still work.
    """
    from verigen.task import scan_tasks

    infos, broken = scan_tasks()
    if as_json:
        for i in infos:
            _emit({"name": i.name, "family": i.family, "description": i.description, "splits": list(i.splits),
                   "distribution": i.distribution, "version": i.version})
        for b in broken:
            _emit({"name": b.name, "distribution": b.distribution, "error": b.error})
        return
    table = Table("name", "family", "splits", "description", "distribution")
    for i in infos:
        table.add_row(escape(i.name), i.family, ",".join(i.splits), escape(i.description),
                      escape(f"{i.distribution} {i.version}"))
    out.print(table)
    for b in broken:
        err.print(f"[red]broken plugin[/red] {escape(b.name)}: {escape(b.error)}", highlight=False, soft_wrap=True)


@app.command("info")
def tasks_info(
    name: Annotated[str, typer.Argument(help="Task name.")],
    task_arg: TaskArgOpt = None,
    split: Annotated[str | None, typer.Option("--split", help="Split of the example problem.")] = None,
    fewshot: Annotated[int, typer.Option("--fewshot", min=0, max=64, help="Render the example K-shot.")] = 0,
    data_dir: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A task's args (types, defaults), splits, family, distribution and one rendered prompt."""
    from verigen.taskinfo import describe

    d = describe(name, parse_task_args(list(task_arg or [])), TaskContext.from_env(data_dir),
                 split=split, fewshot=fewshot)
    if as_json:
        _emit(d.to_json())
        return
    out.print(f"[bold]{escape(d.name)}[/bold]  {escape(d.description)}")
    out.print(f"family: {d.family}   splits: {', '.join(d.splits)}", highlight=False)
    out.print(f"from: {escape(d.distribution)} {escape(d.version)} ({escape(d.target)})", highlight=False)
    if d.doc:
        out.print(escape(d.doc), highlight=False)
    table = Table("arg", "type", "default", "description", title="--task-arg KEY=VALUE")
    for a in d.args:
        table.add_row(escape(a.name), escape(a.type), escape(a.default) if a.default is not None else "[red]required[/red]",
                      escape(a.description))
    out.print(table if d.args else "args: none")
    if d.example:
        out.print(f"[bold]example prompt[/bold] ({escape(str(d.example_id))}, split {escape(str(d.example_split))}):")
        for m in d.example:
            out.print(f"[cyan]{m.role}:[/cyan] {escape(m.content)}", highlight=False)
    else:
        out.print(f"[yellow]no example prompt:[/yellow] {escape(str(d.example_error))}", highlight=False)


@app.command("new")
def tasks_new(
    name: Annotated[str, typer.Argument(help="Task name (lower case, digits, '_').")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="math, function, stdio or puzzle.")] = "math",
    directory: Annotated[Path | None, typer.Option("--dir", help="Where to write it (default ./verigen-task-NAME).")] = None,
) -> None:
    """Write a ready-to-install plugin distribution for a new task."""
    from verigen.scaffold import new_plugin

    root, files = new_plugin(name, kind, directory)
    out.print(f"wrote {len(files)} files to {escape(str(root))}:", highlight=False)
    for path in files:
        out.print(f"  {escape(str(path.relative_to(root)))}", highlight=False)
    out.print(f"next: pip install -e {escape(str(root))} && verigen tasks check {escape(name)}", highlight=False)


@app.command("check")
def tasks_check(
    name: Annotated[str, typer.Argument(help="Task name.")],
    task_arg: TaskArgOpt = None,
    split: Annotated[list[str] | None, typer.Option("--split", help="Split(s) to check (default: all).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", "-l", min=1, help="At most this many problems per split.")] = None,
    data_dir: DataOpt = None,
    sandbox: Annotated[str, typer.Option("--sandbox", help="auto, bwrap or docker.")] = "auto",
    workers: Annotated[int, typer.Option("--workers", min=1)] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Run every problem's reference through its verifier; report the problems that fail.

    Exit code 0 when all pass, 1 when some fail, 2 on bad input (a broken data row, say).
    """
    from verigen.selfcheck import check_problems, task_problems
    from verigen.task import create_task

    task = create_task(name, parse_task_args(list(task_arg or [])), TaskContext.from_env(data_dir, sandbox))
    splits = list(split or task.splits)
    checks = check_problems(task, task_problems(task, splits=splits, seed=seed, limit=limit), workers=workers)
    total = failed = unproved = proved = 0
    for c in checks:
        total += 1
        unproved += c.reference is None
        proved += c.ok and c.reference is not None
        if c.ok:
            continue
        failed += 1
        if as_json:
            _emit({"problem_id": c.problem_id, "split": c.split, "source": c.source, "failures": list(c.failures)})
        else:
            where = f"{c.problem_id} ({c.source or 'split ' + c.split})"
            out.print(f"[red]FAIL[/red] {escape(where)}: {escape('; '.join(c.failures))}", highlight=False, soft_wrap=True)
    if total == 0:
        raise UsageError(f"task {name!r} has no problems in split(s) {', '.join(splits)}")
    summary = (f"{name}: {total} problems, {proved} proved, {failed} failed, "
               f"{unproved} without a reference")
    if as_json:
        _emit({"task": name, "problems": total, "failed": failed, "without_reference": unproved})
    else:
        (err if failed else out).print(summary, highlight=False)
    if failed:
        raise typer.Exit(1)

"""``verigen sandbox``: run one program, check a backend, build the docker image."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from verigen.errors import UsageError
from verigen.sandbox.types import ExecRequest, ExecResult, Limits

app = typer.Typer(no_args_is_help=True, help="Run programs in a sandbox; check and build backends.")
out = Console()
err = Console(stderr=True)

BackendOpt = Annotated[str, typer.Option("--backend", "-b", help="auto, bwrap or docker.")]


@contextmanager
def _usage_errors() -> Iterator[None]:
    """UsageError -> one line on stderr, exit code 2 (also when run outside verigen.cli)."""
    try:
        yield
    except UsageError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        # SystemExit, not typer.Exit: click swallows Exit's code under standalone_mode=False.
        raise SystemExit(2) from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{what} {str(path)!r}: {exc.strerror}") from None


def _summary(result: ExecResult) -> None:
    color = "green" if result.status.value == "exited" and result.exit_code == 0 else "yellow"
    out.print(f"[{color}]{result.status.value}[/{color}] exit={result.exit_code} "
              f"wall={result.wall_s:.3f}s {escape(result.detail)}".rstrip())
    if result.stdout:
        out.rule("stdout")
        out.print(result.stdout, end="", markup=False, highlight=False)
    if result.stderr:
        out.rule("stderr")
        out.print(result.stderr, end="", markup=False, highlight=False)


@app.command("exec")
def exec_(
    file: Annotated[Path, typer.Argument(help="Python program to run.")],
    stdin: Annotated[Path | None, typer.Option("--stdin", help="File fed to its stdin.")] = None,
    backend: BackendOpt = "auto",
    timeout: Annotated[float, typer.Option("--timeout", help="Wall-clock limit, seconds.")] = 10.0,
    memory_mb: Annotated[int, typer.Option("--memory-mb", help="Memory limit, MiB.")] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run FILE in a sandbox and show what happened."""
    from verigen.sandbox.select import open_sandbox

    with _usage_errors():
        if timeout <= 0:
            raise UsageError(f"--timeout must be > 0, got {timeout}")
        if memory_mb < 16:
            raise UsageError(f"--memory-mb must be >= 16, got {memory_mb}")
        code = _read(file, "program").decode("utf-8", errors="replace")
        data = _read(stdin, "--stdin") if stdin is not None else b""
        request = ExecRequest(code=code, stdin=data, limits=Limits(timeout_s=timeout, memory_mb=memory_mb))
        with open_sandbox(backend, workers=1) as sandbox:
            result = sandbox.run(request)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    else:
        _summary(result)


@app.command("check")
def check(backend: BackendOpt = "auto") -> None:
    """Run the conformance suite on a backend; exit 1 if any check fails."""
    from verigen.sandbox.conformance import prepare_conformance_env, run_conformance
    from verigen.sandbox.select import open_sandbox

    with _usage_errors():
        prepare_conformance_env()  # before the sandbox starts, so the env check has teeth
        with open_sandbox(backend, workers=2) as sandbox:
            name = sandbox.name
            results = run_conformance(sandbox)
    table = Table("check", "result", "detail", title=f"sandbox conformance: {name}")
    for r in results:
        table.add_row(r.name, "[green]pass[/green]" if r.passed else "[red]FAIL[/red]", r.detail)
    out.print(table)
    failed = [r.name for r in results if not r.passed]
    if failed:
        err.print(f"[red]{len(failed)} check(s) failed:[/red] {', '.join(failed)}")
        raise SystemExit(1)


@app.command("build")
def build(
    mirror: Annotated[str | None, typer.Option("--mirror", help="Debian/PyPI mirror URL.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Image tag.")] = None,
) -> None:
    """Build the docker sandbox image (sandboxes/python)."""
    with _usage_errors():
        try:
            from verigen.sandbox.docker import build_image
        except ImportError as exc:
            raise UsageError(f"the docker backend is not available: {exc}") from None
        built = build_image(mirror=mirror) if tag is None else build_image(mirror=mirror, tag=tag)
    out.print(f"built {built}")

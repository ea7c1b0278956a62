"""Rich progress bars for the pipeline's stages."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def stage(self, name: str, total: int, done: int = 0) -> None:
        if name in self._tasks:
            self._progress.update(self._tasks[name], total=total, completed=done)
        else:
            self._tasks[name] = self._progress.add_task(name, total=total, completed=done)

    def advance(self, name: str, n: int = 1) -> None:
        if name in self._tasks and n:
            self._progress.advance(self._tasks[name], n)

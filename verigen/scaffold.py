"""``verigen tasks new NAME --kind KIND``: a ready-to-install task plugin distribution.

The output is a separate distribution (``verigen-task-NAME``) with a ``pyproject.toml``
that registers the task through the ``verigen.tasks`` entry point, a task module (a
procedural generator for ``math`` and ``puzzle``, a loader of packaged data for
``function`` and ``stdio``), a self-check test and a README. Templates are package data
(``verigen/scaffold_templates``): ``common/`` for every kind plus one folder per kind;
``__package__`` in a path and ``{{name}}``-style fields in a file are filled in. Files go to
a temporary folder first and are moved into place only when all are written, so a
failure leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Literal, get_args

from verigen import __version__, registry
from verigen.errors import UsageError

Kind = Literal["math", "function", "stdio", "puzzle"]
KINDS: tuple[str, ...] = get_args(Kind)
_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_TEMPLATE_SUFFIX = ".tmpl"
_FIELD_RE = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Names:
    """The names a plugin for task ``name`` is written with."""

    name: str
    kind: str
    package: str
    distribution: str
    class_name: str

    @classmethod
    def for_task(cls, name: str, kind: str) -> Names:
        if not _NAME_RE.fullmatch(name):
            raise UsageError(
                f"task name {name!r}: use lower-case letters, digits and '_', starting with a letter"
            )
        if kind not in KINDS:
            raise UsageError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
        return cls(
            name=name, kind=kind, package=f"verigen_task_{name}",
            distribution=f"verigen-task-{name.replace('_', '-')}",
            class_name="".join(part.capitalize() for part in name.split("_")) + "Task",
        )

    def fields(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "package": self.package, "distribution": self.distribution,
                "class_name": self.class_name, "verigen_version": __version__}


def _render(text: str, fields: dict[str, str], where: str) -> str:
    def field(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in fields:
            raise RuntimeError(f"scaffold template {where} has an unknown field {key!r}")
        return fields[key]

    return _FIELD_RE.sub(field, text)


def _walk(node: Traversable, rel: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Traversable]]:
    out: list[tuple[tuple[str, ...], Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            out += _walk(child, (*rel, child.name))
        elif child.name.endswith(_TEMPLATE_SUFFIX):
            out.append(((*rel, child.name.removesuffix(_TEMPLATE_SUFFIX)), child))
    return out


def render_files(names: Names) -> dict[Path, str]:
    """Relative path -> content of every file of the plugin, nothing written."""
    root = resources.files("verigen").joinpath("scaffold_templates")
    fields = names.fields()
    files: dict[Path, str] = {}
    for part in ("common", names.kind):
        for rel, node in _walk(root.joinpath(part)):
            path = Path(*(names.package if p == "__package__" else p for p in rel))
            files[path] = _render(node.read_text(encoding="utf-8"), fields, "/".join((part, *rel)))
    return files


def new_plugin(name: str, kind: str, directory: Path | None = None) -> tuple[Path, list[Path]]:
    """Write the plugin for task ``name`` into ``directory`` (default ``./verigen-task-NAME``).

    Refuses a name that a registered task already has and a directory that is not empty.
    Returns the directory and the files written.
    """
    names = Names.for_task(name, kind)
    existing = registry.scan("tasks")
    if name in existing.plugins or name in existing.conflicts:
        owner = existing.plugins[name].distribution if name in existing.plugins else "several distributions"
        raise UsageError(f"a task named {name!r} is already registered (by {owner}); choose another name")
    target = directory if directory is not None else Path(names.distribution)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"--dir {str(target)!r} exists and is not an empty folder; choose another")
    files = render_files(names)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text, encoding="utf-8")
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the plugin from other users
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target, [target / rel for rel in files]

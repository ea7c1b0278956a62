"""Lazy, collision-checked plugin registry over Python entry points.

Tasks, samplers and sandboxes are all found the same way: a name in an entry-point group
resolves to ``"module:attr"``, and the module is imported only when that name is loaded.

One broken plugin never takes the others down: a name that two distributions register with
different targets is a *conflict* (looking it up raises, naming both distributions; every
other name still resolves), and a plugin whose module fails to import raises only when that
plugin is loaded. Every error names the plugin, its target and its distribution.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Literal

from verigen.errors import RegistryError

Group = Literal["tasks", "samplers", "sandboxes"]

_GROUP_PREFIX = "verigen."
_SINGULAR: dict[str, str] = {"tasks": "task", "samplers": "sampler", "sandboxes": "sandbox"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginRef:
    """A registered plugin, not yet imported."""

    group: Group
    name: str
    target: str  # "module:attr"
    distribution: str
    version: str = "?"

    @property
    def origin(self) -> str:
        """``task 'x' (mod:Attr, distribution 'd' 1.0)``: how errors name this plugin."""
        return (
            f"{_SINGULAR[self.group]} {self.name!r} ({self.target}, distribution "
            f"{self.distribution!r} {self.version})"
        )

    def load(self) -> object:
        """Import the target; any failure raises ``RegistryError`` naming the plugin."""
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a plugin's import may raise anything: report, never crash
            raise RegistryError(
                f"{self.origin} could not be imported: {type(exc).__name__}: {exc}"
            ) from exc
        obj: object = module
        for part in attr.split(".") if attr else ():
            try:
                obj = getattr(obj, part)
            except AttributeError as exc:
                raise RegistryError(f"{self.origin}: {self.target} has no attribute {part!r}") from exc
        return obj


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """One name that several distributions register with different targets."""

    group: Group
    name: str
    refs: tuple[PluginRef, ...]

    @property
    def message(self) -> str:
        claims = " and ".join(f"{r.target} ({r.distribution} {r.version})" for r in self.refs)
        return f"{_SINGULAR[self.group]} name {self.name!r} is registered twice: {claims}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scan:
    """Every entry point of a group: the usable names and the conflicting ones."""

    plugins: dict[str, PluginRef]
    conflicts: dict[str, Conflict]


def _dist(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return str(getattr(dist, "name", "?")), str(getattr(dist, "version", "?"))


def scan(group: Group) -> Scan:
    """All plugins of ``group`` by name, without importing any of them."""
    claims: dict[str, list[PluginRef]] = {}
    for ep in entry_points(group=_GROUP_PREFIX + group):
        dist, version = _dist(ep)
        ref = PluginRef(group=group, name=ep.name, target=ep.value, distribution=dist, version=version)
        same = claims.setdefault(ep.name, [])
        # One distribution seen twice on sys.path (say, editable and installed) is one claim.
        if all(r.target != ref.target for r in same):
            same.append(ref)
    good = {name: refs[0] for name, refs in claims.items() if len(refs) == 1}
    bad = {
        name: Conflict(group=group, name=name, refs=tuple(refs))
        for name, refs in claims.items()
        if len(refs) > 1
    }
    return Scan(plugins=dict(sorted(good.items())), conflicts=dict(sorted(bad.items())))


def plugins(group: Group) -> dict[str, PluginRef]:
    """The usable plugins of ``group`` by name (conflicting names left out: see ``scan``)."""
    return scan(group).plugins


def get(group: Group, name: str) -> PluginRef:
    """The plugin ``name`` of ``group``; an unknown or conflicting name raises."""
    found = scan(group)
    if name in found.conflicts:
        raise RegistryError(found.conflicts[name].message + "; uninstall one of the distributions")
    try:
        return found.plugins[name]
    except KeyError:
        known = ", ".join(found.plugins) or "none installed"
        raise RegistryError(f"unknown {_SINGULAR[group]} {name!r} (known: {known})") from None


def load(group: Group, name: str) -> object:
    return get(group, name).load()

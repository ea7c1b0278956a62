"""Lazy, collision-checked plugin registry over Python entry points.

Tasks, samplers and sandboxes are all found the same way: a name in an entry-point group
resolves to ``"module:attr"``, and the module is imported only when that name is loaded.
Two distributions that register the same name with different targets raise at lookup.
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

    def load(self) -> object:
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise RegistryError(
                f"{_SINGULAR[self.group]} {self.name!r} ({self.target}) could not be imported: {exc}"
            ) from exc
        obj: object = module
        for part in attr.split(".") if attr else ():
            try:
                obj = getattr(obj, part)
            except AttributeError as exc:
                raise RegistryError(
                    f"{_SINGULAR[self.group]} {self.name!r}: {self.target} has no attribute {part!r}"
                ) from exc
        return obj


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return str(getattr(dist, "name", "?")) if dist is not None else "?"


def plugins(group: Group) -> dict[str, PluginRef]:
    """All plugins of ``group`` by name, without importing any of them.

    Raises ``RegistryError`` when two distributions claim one name with different targets.
    """
    found: dict[str, PluginRef] = {}
    for ep in entry_points(group=_GROUP_PREFIX + group):
        ref = PluginRef(group=group, name=ep.name, target=ep.value, distribution=_dist_name(ep))
        previous = found.get(ep.name)
        if previous is not None and previous.target != ref.target:
            raise RegistryError(
                f"{_SINGULAR[group]} name {ep.name!r} is registered twice: {previous.target} "
                f"({previous.distribution}) and {ref.target} ({ref.distribution})"
            )
        found[ep.name] = ref
    return dict(sorted(found.items()))


def get(group: Group, name: str) -> PluginRef:
    """The plugin ``name`` of ``group``; an unknown name raises with the known ones listed."""
    available = plugins(group)
    try:
        return available[name]
    except KeyError:
        known = ", ".join(available) or "none installed"
        raise RegistryError(f"unknown {_SINGULAR[group]} {name!r} (known: {known})") from None


def load(group: Group, name: str) -> object:
    return get(group, name).load()

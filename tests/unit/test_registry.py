from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from verigen import registry
from verigen.errors import RegistryError


def test_samplers_are_registered_lazily() -> None:
    refs = registry.plugins("samplers")
    assert {"fake", "transformers"} <= set(refs)
    assert refs["transformers"].target == "verigen.sampling.hf:TransformersSampler"


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(RegistryError, match=r"unknown sampler 'nope' \(known: .*fake"):
        registry.get("samplers", "nope")


def test_a_collision_raises_on_lookup_and_leaves_other_names_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        EntryPoint(name="dup", value="a.mod:X", group="verigen.tasks"),
        EntryPoint(name="dup", value="b.mod:Y", group="verigen.tasks"),
        EntryPoint(name="dup", value="a.mod:X", group="verigen.tasks"),  # one dist seen twice: not a clash
        EntryPoint(name="fine", value="c.mod:Z", group="verigen.tasks"),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps)
    with pytest.raises(RegistryError, match=r"'dup' is registered twice: a.mod:X .* and b.mod:Y"):
        registry.get("tasks", "dup")
    assert set(registry.plugins("tasks")) == {"fine"}
    assert registry.get("tasks", "fine").target == "c.mod:Z"
    assert [r.target for r in registry.scan("tasks").conflicts["dup"].refs] == ["a.mod:X", "b.mod:Y"]


def test_broken_target_is_a_clear_error() -> None:
    ref = registry.PluginRef(group="tasks", name="x", target="verigen.no_such_module:T", distribution="d", version="1.2")
    with pytest.raises(RegistryError, match=r"task 'x' \(verigen.no_such_module:T, distribution 'd' 1.2\) could not be imported"):
        ref.load()
    ref = registry.PluginRef(group="tasks", name="x", target="verigen.types:NoSuch", distribution="d")
    with pytest.raises(RegistryError, match="has no attribute 'NoSuch'"):
        ref.load()

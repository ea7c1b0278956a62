from __future__ import annotations

from pathlib import Path

import pytest

from verigen.config import RunConfig, build_config, to_toml_dict
from verigen.errors import UsageError


def test_defaults_and_overrides_are_typed() -> None:
    cfg = build_config(overrides=["sampling.n=8", "sampling.temperature=0", "task.args.level=3", "model.name=123"])
    assert cfg.sampling.n == 8 and cfg.sampling.temperature == 0.0
    assert cfg.task.args == {"level": 3}
    assert cfg.model.name == "123"  # a str field keeps the text


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("sampling.n=abc", "sampling.n='abc'"),
        ("sampling.n=0", "sampling.n=0"),
        ("nosuch=1", "'nosuch'"),
        ("sampling.bogus=1", "'sampling.bogus'"),
        ("sampling.n", "'sampling.n'"),
    ],
)
def test_bad_overrides_name_the_key_and_value(override: str, needle: str) -> None:
    with pytest.raises(UsageError, match=None) as exc:
        build_config(overrides=[override])
    assert needle in str(exc.value)


def test_toml_file_unknown_keys_and_bad_toml(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[task]\nname = "gsm8k"\n[sampling]\nn = 2\n')
    cfg = build_config(file=good, overrides=["sampling.n=3"])
    assert cfg.task.name == "gsm8k" and cfg.sampling.n == 3
    bad = tmp_path / "bad.toml"
    bad.write_text("[sampling]\nnn = 2\n")
    with pytest.raises(UsageError, match=r"unknown config key 'sampling.nn'"):
        build_config(file=bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[sampling\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        build_config(file=broken)
    with pytest.raises(UsageError, match="does not exist"):
        build_config(file=tmp_path / "missing.toml")


def test_resolved_config_round_trips_through_toml(tmp_path: Path) -> None:
    import tomli_w

    cfg = build_config(overrides=["task.split=test", "sampling.stop=[\"</s>\"]", "task.limit=5"])
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(to_toml_dict(cfg)))
    assert build_config(file=path) == cfg
    assert RunConfig() == build_config()

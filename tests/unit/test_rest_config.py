"""The loop config: the shipped example loads, --set is typed by the loop's own schema,
and a bad key or value names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from verigen.errors import UsageError
from verigen.loops import build_loop_config

REST_TOML = Path(__file__).resolve().parents[2] / "verigen" / "configs" / "rest.toml"


def test_shipped_example_loads_and_overrides_are_typed() -> None:
    cfg = build_loop_config(file=REST_TOML, overrides=["train.learning_rate=1e-4", "rest.iterations=3",
                                                        "rest.from_base=false", "train.method=lora"])
    assert cfg.task.name == "arithmetic" and cfg.train.learning_rate == 1e-4 and cfg.rest.iterations == 3
    assert cfg.rest.from_base is False and cfg.train.method == "lora"
    assert [t.name for t in cfg.rest.eval_tasks] == ["arithmetic", "gsm8k"]
    assert cfg.base_model == "default"
    assert build_loop_config(overrides=["rest.base_model=/m"]).base_model == "/m"


@pytest.mark.parametrize(("sets", "message"), [
    (["rest.iterations=0"], "rest.iterations"),
    (["train.lr=1"], "unknown config key 'train.lr'"),
    (["rest.eval_tasks=[{\"name\": \"x\", \"bogus\": 1}]"], "rest.eval_tasks.0.bogus"),
    (["train.bf16=perhaps"], "train.bf16"),
])
def test_bad_values_name_the_key(sets: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        build_loop_config(overrides=sets)

"""Self-improvement loops built from the engine's parts.

    loop = RestLoop(build_loop_config(file=Path("rest.toml")), Path("runs/rest"))
    manifest = loop.run()   # resumable: a rerun continues at the stage it was in

    SelfRewardLoop(build_selfreward_config(overrides=["selfreward.task=arithmetic"]), Path("runs/sr")).run()
"""

from verigen.loops._rest import LOOP_MANIFEST, RestLoop
from verigen.loops._rest_config import LoopConfig, RestSection, build_loop_config
from verigen.loops._selfreward import SelfRewardLoop
from verigen.loops._selfreward_config import SelfRewardConfig, SelfRewardSection, build_selfreward_config

__all__ = ["LOOP_MANIFEST", "LoopConfig", "RestLoop", "RestSection", "SelfRewardConfig", "SelfRewardLoop",
           "SelfRewardSection", "build_loop_config", "build_selfreward_config"]

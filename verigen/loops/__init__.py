"""Self-improvement loops built from the engine's parts.

    loop = RestLoop(build_loop_config(file=Path("rest.toml")), Path("runs/rest"))
    manifest = loop.run()   # resumable: a rerun continues at the stage it was in
"""

from verigen.loops._rest import LOOP_MANIFEST, RestLoop
from verigen.loops._rest_config import LoopConfig, RestSection, build_loop_config

__all__ = ["LOOP_MANIFEST", "LoopConfig", "RestLoop", "RestSection", "build_loop_config"]

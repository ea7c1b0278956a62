"""generate -> verify -> select -> write: the public face of ``verigen.engine``.

Kept so that ``from verigen.pipeline import plan, execute, RunSummary`` keeps working.
"""

from verigen.engine import (
    ErrorRateExceeded,
    NullProgress,
    Plan,
    ProgressSink,
    RunSummary,
    execute,
    finalize,
    open_sampler,
    open_verifier_pool,
    plan,
)

__all__ = [
    "ErrorRateExceeded",
    "NullProgress",
    "Plan",
    "ProgressSink",
    "RunSummary",
    "execute",
    "finalize",
    "open_sampler",
    "open_verifier_pool",
    "plan",
]

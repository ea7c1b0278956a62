"""The engine: plan a run (validate, write nothing), then execute it (sample, verify, write).

    p = plan(config)                       # every check that can be made before writing
    summary = execute(p)                   # opens and closes its own sampler and pool

Loops and executors keep one model loaded across rounds:

    sampler = open_sampler(p)
    verifier, pool = open_verifier_pool(p)
    for round_config in rounds:
        execute(plan(round_config), sampler=sampler, pool=pool)   # closes neither
"""

from verigen.engine._execute import (
    NullProgress,
    Pending,
    ProgressSink,
    execute,
    open_sampler,
    open_verifier_pool,
    pending,
)
from verigen.engine._finalize import ErrorRateExceeded, RunSummary, SamplerInfo, finalize
from verigen.engine._needs import TaskNeeds, needs_of
from verigen.engine._plan import Plan, check_model, default_split, plan, task_args_as_strings
from verigen.engine._spec import SamplerSpec, VerifierSource, VerifierSpec

__all__ = [
    "ErrorRateExceeded",
    "NullProgress",
    "Pending",
    "Plan",
    "ProgressSink",
    "RunSummary",
    "SamplerInfo",
    "SamplerSpec",
    "TaskNeeds",
    "VerifierSource",
    "VerifierSpec",
    "check_model",
    "default_split",
    "execute",
    "finalize",
    "needs_of",
    "open_sampler",
    "open_verifier_pool",
    "pending",
    "plan",
    "task_args_as_strings",
]

"""verigen: a verifier-driven synthetic-data engine for code and math.

Importing this package is cheap: no torch, transformers, vllm, sympy or docker.
"""

from verigen.types import (
    ChatMessage,
    Completion,
    GenerationRequest,
    Outcome,
    Problem,
    Sample,
    SamplingParams,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "ChatMessage",
    "Completion",
    "GenerationRequest",
    "Outcome",
    "Problem",
    "Sample",
    "SamplingParams",
    "Verdict",
    "__version__",
]

"""Math task plugins: procedural generators (arithmetic, fractions, linear equations,
word problems) and benchmark sets (GSM8K, MATH, MATH-500).

Each task is registered through the ``verigen.tasks`` entry point of ``verigen-tasks``;
importing this package or any task module does not import SymPy (the verifier is imported
inside ``verifier()``).
"""

from verigen_tasks.math._common import SYSTEM_PROMPT, MathTask

__all__ = ["SYSTEM_PROMPT", "MathTask"]

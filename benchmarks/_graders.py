"""The two graders the math benchmarks compare: verigen's ``check`` and Math-Verify.

Both take (gold, completion) and return True when they accept. Math-Verify runs with
its timeouts off (they are SIGALRM-based; we call it in the main thread and pay its full
cost, as a user with the default settings would).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path

Grader = Callable[[str, str], bool]


def verigen_grader() -> Grader:
    from verigen.types import Outcome
    from verigen.verify.math import check

    def grade(gold: str, completion: str) -> bool:
        return check(gold=gold, pred_text=completion).outcome is Outcome.ACCEPTED

    return grade


def _math_wrapped(text: str) -> str:
    """A bare answer gets math delimiters so that Math-Verify can find it."""
    if "\n" not in text and not re.search(r"(?<!\\)\$|\\boxed|\\fbox|\\\(|\\\[", text):
        return f"${text}$"
    return text


def math_verify_grader() -> Grader:
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    # benchmarks/math_verify.py has the package's name: keep this folder off the path so
    # the import below finds the installed package, not that script.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from math_verify import parse, verify

    def grade(gold: str, completion: str) -> bool:
        g = parse(_math_wrapped(gold), parsing_timeout=None)
        p = parse(_math_wrapped(completion), parsing_timeout=None)
        return bool(verify(g, p, timeout_seconds=None))

    return grade

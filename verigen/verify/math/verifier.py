"""The math verifier: extract -> normalize -> parse -> compare, as one ``Verdict``."""

from __future__ import annotations

import logging
from typing import Any

from verigen.errors import UsageError
from verigen.types import Outcome, Problem, Verdict
from verigen.verify.math.answer import MathAnswer
from verigen.verify.math.extract import extract_answer

NAME = "math"
# Bump when a verdict on the same (gold, completion) could change.
VERSION = "1"

log = logging.getLogger(__name__)


def _verdict(outcome: Outcome, answer: str | None, detail: str) -> Verdict:
    return Verdict(outcome=outcome, answer=answer, detail=detail, verifier=NAME, verifier_version=VERSION)


def check(*, gold: str, pred_text: str) -> Verdict:
    """Judge the completion ``pred_text`` against the gold answer ``gold``.

    ACCEPTED only on positive evidence of equivalence; REJECTED for a wrong, hedged
    (several different boxed answers), too large or unparseable-and-different answer;
    NO_ANSWER when nothing can be extracted; ERROR when the verifier itself fails.
    """
    answer: str | None = None
    try:
        extraction = extract_answer(pred_text)
        answer = extraction.answer
        if answer is None:
            return _verdict(Outcome.NO_ANSWER, None, "no answer found")
        if extraction.hedged:
            return _verdict(Outcome.REJECTED, answer, "hedged: several different boxed answers")
        from verigen.verify.math.compare import judge

        result = judge(gold=gold, pred=answer)
    except RecursionError:
        return _verdict(Outcome.REJECTED, answer, "unparseable: nesting too deep")
    except Exception as exc:
        log.warning("math verifier failed on gold %r: %s", gold[:80], exc, exc_info=True)
        return _verdict(Outcome.ERROR, answer, f"verifier error: {type(exc).__name__}: {exc}"[:300])
    outcome = Outcome.ACCEPTED if result.equal else Outcome.REJECTED
    return _verdict(outcome, answer, f"{extraction.source}: {result.reason}"[:300])


class MathVerifier:
    """Checks final answers of math completions against a ``MathAnswer`` reference.

    Evaluates model text with SymPy in-process, so the pipeline runs it in killable worker
    processes (``needs_process_isolation``) with ``time_limit_s`` per check.
    """

    name = NAME
    version = VERSION
    needs_process_isolation = True
    # Imported by each pool worker before its first check, outside the time limit.
    preload_modules = ("sympy",)

    def __init__(self, *, time_limit_s: float = 5.0) -> None:
        if not time_limit_s > 0:
            raise UsageError(f"math verifier time_limit_s must be positive, got {time_limit_s!r}")
        self.time_limit_s = float(time_limit_s)

    def verify(self, problem: Problem[Any], completion: str) -> Verdict:
        """Verdict on ``completion`` for ``problem`` (whose reference is a ``MathAnswer``)."""
        reference = problem.reference
        if not isinstance(reference, MathAnswer):
            raise UsageError(
                f"problem {problem.id!r}: math verifier needs a MathAnswer reference, "
                f"got {type(reference).__name__}"
            )
        return check(gold=reference.text, pred_text=completion)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"MathVerifier(time_limit_s={self.time_limit_s})"

"""The math verifier: extract -> normalize -> parse -> compare, as one ``Verdict``.

Which of a completion's statements is its answer (``_settle``): the last one; several
different boxes are one answer only when the reference has several parts (a set, the
solutions of an equation, named values), else hedging; a later statement that differs
from an earlier box or ``####`` is hedging; an answer withdrawn, denied or changed
after "Wait" is hedging. Hedging is REJECTED, never accepted on one of its answers.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from verigen.errors import UsageError
from verigen.types import Outcome, Problem, Verdict
from verigen.verify.math._labels import split_top
from verigen.verify.math.answer import MathAnswer
from verigen.verify.math.extract import Extraction, extract_answer, reference_answer
from verigen.verify.math.normalize import normalize

NAME = "math"
# Bump when a verdict on the same (gold, completion) could change.
VERSION = "2"

log = logging.getLogger(__name__)


def _verdict(outcome: Outcome, answer: str | None, detail: str, canonical: str | None = None) -> Verdict:
    return Verdict(outcome=outcome, answer=answer, detail=detail[:300], verifier=NAME,
                   verifier_version=VERSION, canonical=canonical)


def multi_part(gold: str) -> bool:
    """Whether a gold answer has several parts: a list, a set of several, a ``\\pm``."""
    text = normalize(gold).text
    if "\\pm" in text or "\\mp" in text:
        return True
    if len(split_top(text, ",;")) > 1:
        return True
    inner = re.fullmatch(r"\\\{(.*)\\\}", text)
    return inner is not None and len(split_top(inner.group(1), ",;")) > 1


def _is_text(answer: str) -> bool:
    """No digit and no math, number words included: a word answer ("positive", "Evelyn")."""
    return not re.search(r"[\d\\^=+<>]", answer) and not re.search(r"\d", normalize(answer).text)


def _same(first: str, second: str) -> bool:
    from verigen.verify.math._grade import judge

    loose = re.sub(r"\s+|\$|\\[,!;: ]", "", first) == re.sub(r"\s+|\$|\\[,!;: ]", "", second)
    return loose or judge(gold=first, pred=second).equal


def _settle(extraction: Extraction, gold: str) -> tuple[str | None, str]:
    """(the answer, "") or (None, why the completion is hedged)."""
    statements = extraction.statements
    if not statements:
        return extraction.answer, ""
    if any(s.kind != "answer_is" and not _is_text(s.text) for s in statements):
        # "\boxed{130/231} ... The final answer is positive": a word about the value.
        statements = tuple(s for s in statements if s.kind != "answer_is" or not _is_text(s.text))
    boxes: list[str] = []
    for box in (s.text for s in statements if s.kind == "boxed"):
        if not any(_same(b, box) for b in boxes):
            boxes.append(box)
    box_answer = None
    if len(boxes) > 1:
        if not multi_part(gold):
            return None, "hedged: several different boxed answers"
        box_answer = ", ".join(boxes)
    elif boxes:
        box_answer = boxes[0]
    answer = box_answer if statements[-1].kind == "boxed" else statements[-1].text
    for i, first in enumerate(statements):
        if first.kind == "answer_is":
            continue  # a prose answer may be revised by a later one: the last wins
        for later in statements[i + 1 :]:
            if first.kind == later.kind == "boxed":
                continue  # boxes are parts or hedging, decided above
            if not (_same(first.text, later.text) or (box_answer is not None and _same(box_answer, later.text))):
                return None, f"hedged: {later.text[:40]!r} after {first.kind} {first.text[:40]!r}"
    if answer is not None:
        if extraction.retracted:
            return None, "hedged: the answer is withdrawn after it is stated"
        if any(_same(answer, denied) for denied in extraction.denied):
            return None, "hedged: the answer is denied after it is stated"
        if extraction.reconsidered is not None and not _same(answer, extraction.reconsidered):
            return None, f"hedged: {extraction.reconsidered[:40]!r} after reconsidering"
    return answer, ""


def check(*, gold: str, pred_text: str) -> Verdict:
    """Judge the completion ``pred_text`` against the gold answer ``gold``.

    ``gold`` may be an answer or a whole reference solution (its answer is extracted by
    the same rules). ACCEPTED only on positive evidence of equivalence; REJECTED for a
    wrong, hedged, too large or unparseable-and-different answer; NO_ANSWER when nothing
    can be extracted; ERROR when the verifier itself fails.
    """
    answer: str | None = None
    try:
        extraction = extract_answer(pred_text)
        answer = extraction.answer
        if answer is None:
            return _verdict(Outcome.NO_ANSWER, None, "no answer found")
        gold_answer = reference_answer(gold)
        settled, why = _settle(extraction, gold_answer)
        if settled is None:
            return _verdict(Outcome.REJECTED, answer, why)
        answer = settled
        from verigen.verify.math._canonical import canonical
        from verigen.verify.math._grade import judge

        result = judge(gold=gold_answer, pred=answer)
        key = canonical(answer, result.canonical)
    except RecursionError:
        return _verdict(Outcome.REJECTED, answer, "unparseable: nesting too deep")
    except Exception as exc:
        log.warning("math verifier failed on gold %r: %s", gold[:80], exc, exc_info=True)
        return _verdict(Outcome.ERROR, answer, f"verifier error: {type(exc).__name__}: {exc}")
    outcome = Outcome.ACCEPTED if result.equal else Outcome.REJECTED
    return _verdict(outcome, answer, f"{extraction.source}: {result.reason}", key)


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

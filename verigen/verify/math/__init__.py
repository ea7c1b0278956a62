"""Math answer verification: extract -> normalize -> parse -> grade.

Importing this package imports no SymPy; the parser and the comparison import it lazily,
past the plain-number fast path.
"""

from verigen.verify.math.answer import MathAnswer
from verigen.verify.math.extract import Extraction, extract_answer, reference_answer
from verigen.verify.math.verifier import MathVerifier, check


def compare(*, gold: str, pred: str) -> bool:
    """True when the answer ``pred`` is equivalent to ``gold`` (see ``_grade.py``)."""
    from verigen.verify.math._grade import compare as _compare

    return _compare(gold=gold, pred=pred)


__all__ = ["Extraction", "MathAnswer", "MathVerifier", "check", "compare", "extract_answer", "reference_answer"]

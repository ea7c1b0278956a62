"""Extraction, normalization, parsing and the verifier object, each on its own."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from verigen.errors import UsageError
from verigen.types import Outcome, Problem
from verigen.verify.base import Verifier
from verigen.verify.math import MathAnswer, MathVerifier, check, compare, extract_answer
from verigen.verify.math.normalize import normalize
from verigen.verify.math.values import ParseError, TooLarge


@pytest.mark.parametrize(
    ("text", "answer", "source", "hedged"),
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}", "boxed", False),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}", "boxed", False),
        (r"\boxed{3} and \boxed{4}", "4", "boxed", True),
        (r"\boxed{x = 3} or \boxed{3}", "3", "boxed", False),
        (r"\fbox{7}", "7", "boxed", False),
        ("work\n#### 1,234", "1,234", "hash", False),
        ("The answer is $1,234.", "1,234", "answer_is", False),  # a price: no math delimiter
        ("The final answer is **42**.", "42", "answer_is", False),
        ("Final Answer: The final answer is $x^2$. I hope it is correct.", "x^2", "answer_is", False),
        ("Answer: 3.5", "3.5", "answer_is", False),
        ("So we get 9 eggs.\nShe sells them for 18 dollars.", "18", "final_line", False),
        (r"Hence \(x = 4\)", "x = 4", "final_line", False),
        ("5!", "5!", "final_line", False),
        ("I am not sure.", None, None, False),
        (r"\boxed{}", None, None, False),
        ("", None, None, False),
    ],
)
def test_extract(text: str, answer: str | None, source: str | None, hedged: bool) -> None:
    got = extract_answer(text)
    assert (got.answer, got.source, got.hedged) == (answer, source, hedged)


@pytest.mark.parametrize(
    ("raw", "text", "percent"),
    [
        (r"10,\!080", "10080", False),
        ("1,000,000", "1000000", False),
        ("(1,2)", "(1,2)", False),
        (r"\left( 1, 2 \right]", "( 1, 2 ]", False),
        (r"50\%", "50", True),
        (r"30^\circ", "30", False),
        (r"\$18.90", "18.90", False),
        (r"15\mbox{ cm}^2", "15", False),
        (r"2\frac{1}{2}", r"(2+\frac{1}{2})", False),
        ("2 1/2", "(2+1/2)", False),
        (r"\dfrac12", r"\frac{1}{2}", False),
        (r"x \in [-2,7]", "[-2,7]", False),
        (r"\text{Evelyn}", "Evelyn", False),
        ("12 apples", "12", False),
    ],
)
def test_normalize(raw: str, text: str, percent: bool) -> None:
    assert normalize(raw) == type(normalize(raw))(text=text, percent=percent)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("__import__", ParseError),
        ("os.system", ParseError),
        ("lambda", ParseError),
        (r"9^{9^{9^9}}", TooLarge),
        ("2000!", TooLarge),
        ("1" * 2001, TooLarge),
        ("(" * 100 + "1" + ")" * 100, TooLarge),
        ("x^{100}", TooLarge),
        (r"\foo{1}", ParseError),
        ("1/0", ParseError),
        ("(1,2", ParseError),
    ],
)
def test_parser_refuses(text: str, error: type[Exception]) -> None:
    from verigen.verify.math.parse import parse_math

    with pytest.raises(error):
        parse_math(text)


@pytest.mark.parametrize(
    ("gold", "pred", "equal"),
    [("1/2", "0.5", True), ("1000000", "1000001", False), ("x+1", "1+x", True), ("(1,2)", "(2,1)", False)],
)
def test_compare_is_keyword_only_and_asymmetric_api(gold: str, pred: str, equal: bool) -> None:
    assert compare(gold=gold, pred=pred) is equal


def test_import_does_not_load_sympy() -> None:
    code = "import sys, verigen.verify.math as m; m.check(gold='5', pred_text='\\\\boxed{5}'); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the integer fast path needs no SymPy either


def test_verifier_protocol_pickle_and_verify() -> None:
    verifier = MathVerifier(time_limit_s=2.0)
    assert isinstance(verifier, Verifier)
    assert (verifier.name, verifier.needs_process_isolation, verifier.time_limit_s) == ("math", True, 2.0)
    clone = pickle.loads(pickle.dumps(verifier))
    problem = Problem(id="p1", task="math", prompt="1+1?", reference=MathAnswer(text="2"))
    verdict = clone.verify(problem, r"so \boxed{2}")
    assert (verdict.outcome, verdict.answer, verdict.verifier, verdict.verifier_version) == (
        Outcome.ACCEPTED, "2", "math", verifier.version)
    assert clone.verify(problem, r"\boxed{3}").outcome is Outcome.REJECTED
    assert clone.verify(problem, "no idea").outcome is Outcome.NO_ANSWER
    clone.close()


def test_bad_construction_and_reference_raise_usage_errors() -> None:
    with pytest.raises(UsageError, match="time_limit_s"):
        MathVerifier(time_limit_s=0)
    problem = Problem(id="p1", task="math", prompt="?", reference="2")
    with pytest.raises(UsageError, match="MathAnswer"):
        MathVerifier().verify(problem, r"\boxed{2}")


def test_internal_failure_is_error_not_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    import verigen.verify.math._grade as compare_module

    def broken(*, gold: str, pred: str) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(compare_module, "judge", broken)
    verdict = check(gold="5", pred_text=r"\boxed{5}")
    assert verdict.outcome is Outcome.ERROR
    assert "KeyError" in verdict.detail

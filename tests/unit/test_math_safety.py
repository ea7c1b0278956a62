"""Model text is never executed, and hostile sizes finish in bounded time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from verigen.types import Outcome
from verigen.verify.math import check

HANG_GUARD_S = 10.0  # a hang guard only, not a performance threshold


def _payloads(sentinel: Path) -> list[str]:
    cmd = f"touch {sentinel}"
    return [
        f"__import__('os').system('{cmd}')",
        f"\\boxed{{__import__('os').system('{cmd}')}}",
        f"The answer is eval(\"__import__('os').system('{cmd}')\")",
        f"\\boxed{{exec(\"import os; os.system('{cmd}')\")}}",
        "\\boxed{().__class__.__bases__[0].__subclasses__()}",
        f"\\boxed{{(lambda: __import__('os').system('{cmd}'))()}}",
        "\\boxed{x.__globals__['os'].system('id')}",
        f"#### Symbol('x').__class__.__init__.__globals__['os'].system('{cmd}')",
        f"\\boxed{{\\text{{__import__('os').system('{cmd}')}}}}",
        f"\\boxed{{\\operatorname{{exec}}(\\text{{{cmd}}})}}",
    ]


@pytest.mark.parametrize("index", range(10))
def test_code_in_answers_is_never_run(tmp_path: Path, index: int) -> None:
    sentinel = tmp_path / "pwned"
    text = _payloads(sentinel)[index]
    verdict = check(gold="5", pred_text=text)
    assert not sentinel.exists()
    assert verdict.outcome in (Outcome.REJECTED, Outcome.NO_ANSWER), verdict
    # The same payload as the gold must not run either (golds come from data files).
    gold_verdict = check(gold=text, pred_text="\\boxed{5}")
    assert not sentinel.exists()
    assert gold_verdict.outcome is Outcome.REJECTED, gold_verdict


BIG = "7" * 100_000


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("5", r"\boxed{9^{9^{9^9}}}", Outcome.REJECTED),
        ("5", r"\boxed{10000000!}", Outcome.REJECTED),
        ("5", r"\boxed{10^{10^{10}}}", Outcome.REJECTED),
        ("5", r"\boxed{2^{2^{2^{2^{2^{2}}}}}}", Outcome.REJECTED),
        ("5", r"\boxed{(10^{1000})!}", Outcome.REJECTED),
        ("5", r"\boxed{\binom{10^{100}}{10^{50}}}", Outcome.REJECTED),
        ("5", r"\boxed{x^{10^{9}}}", Outcome.REJECTED),
        ("5", r"\boxed{e^{e^{e^{10}}}}", Outcome.REJECTED),
        ("5", "\\boxed{" + BIG + "}", Outcome.REJECTED),
        (BIG, "\\boxed{" + BIG + "}", Outcome.ACCEPTED),
        (BIG, "\\boxed{" + BIG[:-1] + "8}", Outcome.REJECTED),
        (BIG, "\\boxed{" + BIG + "0}", Outcome.REJECTED),
        ("5", "\\boxed{" + "(" * 400 + "6" + ")" * 400 + "}", Outcome.REJECTED),
        ("5", "\\boxed{" + "(" * 100_000 + "6" + ")" * 100_000 + "}", Outcome.REJECTED),
        ("5", "\\boxed{" + "{" * 5000 + "6" + "}" * 5000 + "}", Outcome.REJECTED),
        ("5", "\\boxed{" + r"\frac{1}{" * 200 + "6" + "}" * 200 + "}", Outcome.REJECTED),
        ("5", "\\boxed{" + "+".join(["(x+1)^{60}"] * 10) + "}", Outcome.REJECTED),
        ("5", "\\boxed{" + "1" * 1_000_000 + "}", Outcome.REJECTED),
        ("10^{1999}", "\\boxed{1" + "0" * 1999 + "}", Outcome.ACCEPTED),
        ("10^{1999}+1", "\\boxed{1" + "0" * 1999 + "}", Outcome.REJECTED),
    ],
    ids=lambda v: v[:20] if isinstance(v, str) else str(v),
)
def test_hostile_sizes_are_bounded(gold: str, pred: str, expected: Outcome) -> None:
    start = time.monotonic()
    verdict = check(gold=gold, pred_text=pred)
    assert time.monotonic() - start < HANG_GUARD_S
    assert verdict.outcome in (expected, Outcome.TIMEOUT), verdict

"""Which statement of a completion is its answer: formats, hedging, negation, code, multipliers.

Each row is (gold, completion, expected outcome). The texts are written to isolate one
rule each; real outputs of the same kinds are in tests/data/math_cases.jsonl.
"""

from __future__ import annotations

import pytest

from verigen.types import Outcome
from verigen.verify.math import check, extract_answer, reference_answer

A, R, N = Outcome.ACCEPTED, Outcome.REJECTED, Outcome.NO_ANSWER


@pytest.mark.parametrize(
    ("gold", "text", "expected"),
    [
        # answer formats
        ("18", "She makes 9 * 2 = <<9*2=18>>18 dollars.\nA: 18", A),
        ("18", "So the answer is 18. I hope it is correct.", A),
        ("12", "The answer is: 12", A),
        ("6", "**Answer:** 6", A),
        ("6", "**Final Answer**\n\n$6$", A),
        ("6", "Final Answer: The final answer is $6$. I hope it is correct.", A),
        ("320,000", "So the gcf is $320,\\!000$.\n\n# Answer\n\n320,000", A),
        ("3000", "He earns $1,500 twice, so he has $3,000 in total. #### 3,000", A),
        ("9", "Answer \\[\n9\n\\]", A),
        ("120", "Final Answer: The volume of $ABCD$ is 120. I hope it is correct.", A),
        ("\\frac{1}{2}", "So $x = \\\\frac{1}{2}$ \\\\boxed{\\\\frac{1}{2}}", A),  # JSON-doubled backslashes
        ("5", "\\boxed{\\boxed{5}}", A),
        ("4", "Fill in \\boxed{\\phantom{2}}: then \\boxed{4}.", A),
        ("18", "The answer is 18.\n\nQ: Tom has 3 apples. How many...\nA: 7", A),  # few-shot run-on
        ("2/3", "So P(A) = 2/3. Therefore, the probability is 2/3. <|im_start|>user\nNext", A),
        ("\\text{Yes}", "The answer is yes.", A),
        ("B", "Answer: (B) 12", A),
        ("2", "The answer is two.", A),
        # several boxes: parts of a multi-part gold, hedging for a single-valued gold
        ("\\{1,2,3\\}", "\\boxed{1}, \\boxed{2}, \\boxed{3}", A),
        ("3", "\\boxed{1}, \\boxed{2}, \\boxed{3}", R),
        ("(2,2), (6,2)", "\\boxed{(2,2)} \\text{ and } \\boxed{(6,2)}", A),
        ("k = 45, n = 2", "\\boxed{k = 45} \\quad \\text{and} \\quad \\boxed{n = 2}", A),
        # a later answer that differs from a box or #### is hedging
        ("15", "\\boxed{12}\n\nWait, let me recheck. 3 * 5 = 15. The answer is 15.", R),
        ("12", "\\boxed{12}\n\nWait, let me recheck. 3 * 5 = 15. The answer is 15.", R),
        ("12", "#### 12\nActually, I made a mistake: it is 15.", R),
        ("12", "The total is \\boxed{12}.\n\nWait, I think it is 15.", R),
        ("12", "The total is \\boxed{12}.\n\nSo 12 is not the answer.", R),
        ("18", "\\boxed{18}\n\nLet me double-check: 9 * 2 = 18. Yes, she makes $18.", A),
        ("7", "The answer is 5. Hmm, no: recounting gives 7, so the answer is 7.", A),  # prose may revise
        # negated conclusions state nothing
        ("12", "So 12 is not the answer.", N),
        ("12", "Therefore the number of apples cannot be 12.", N),
        ("12", "The answer is not 12.", N),
        ("14", "The answer is $14$ and not 15.", A),
        # a box in code or a comment is not a stated answer
        ("15", "```python\nprint('\\\\boxed{15}')\n```\nThe answer is 12.", R),
        ("15", "```python\n# the answer is \\boxed{15}\nx = 12\n```\nSo the answer is $12$.", R),
        ("15", "% \\boxed{15}\nThe answer is 12.", R),
        # multiplier words are applied, never dropped
        ("12", "\\boxed{12 \\text{ thousand}}", R),
        ("12000", "\\boxed{12 \\text{ thousand}}", A),
        ("5", "The answer is 5 dozen.", R),
        ("60", "The answer is 5 dozen.", A),
        ("3", "The answer is 3 million.", R),
        # prose that mentions a number in passing is no answer; the quantity a sentence opens with is
        ("80", "Three trucks will be needed to transport 80 flagstones.", R),
        ("3", "Three trucks will be needed to transport 80 flagstones.", A),
        ("5", "5 apples plus 7 apples make 12 apples.", N),
        ("80", "She carries the 80 flagstones with three trucks and two vans.", N),
        ("11200", "So, the program had 11200 downloads over the three months.", A),
        ("2, 3", "The solutions are $x=2$ and $x=3$.", A),
        ("3", "The solutions are $x=2$ and $x=3$.", R),
        ("3", "So x = 2 and y = 3.", R),
        ("72", "Natalia sold 48+24 = 72 clips altogether in April and May.", A),
        ("5", "<think>is it \\boxed{3}? no</think>The answer is \\boxed{5}.", A),
        ("44", "So $17^{-1} \\equiv \\boxed{44}$.\n\nCheck: $17 \\cdot 44 = 748$, so our answer is correct.", A),
        ("\\frac{130}{231}", "$=\\boxed{\\frac{130}{231}}$. The final answer is positive, since two factors are negative.", A),
    ],
)
def test_statements(gold: str, text: str, expected: Outcome) -> None:
    assert check(gold=gold, pred_text=text).outcome is expected


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("\\frac{1}{3}", "\\cfrac{1}{3}", A),
        ("125", "125\\textnormal{ miles}", A),
        ("\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
         "\\left[\\begin{array}{cc}1 & 2 \\\\ 3 & 4\\end{array}\\right]", A),
        ("\\frac{\\sqrt{3}}{3}", "\\frac{\\sqrt{3}}{3} \\approx 0.577", A),
        ("0.577", "\\frac{\\sqrt{3}}{3} \\approx 0.577", A),  # a decimal gold asks for the rounded value
        ("0.577", "\\frac{1}{2} \\approx 0.577", R),  # ... which must round the exact side
        ("x \\neq 5", "x != 5", A),
        ("11111111100", "11,\\! 111,\\! 111,\\! 100", A),
        ("19", "a_{37} = 19", A),
        ("a_3 = 2, a_{37} = 19", "a_{37} = 19, \\quad a_3 = 2", A),
        ("7:32", "7:32", A),
        ("7:32", "14:64", R),
        ("20:34", "20:34:00", A),
        ("20:34", "20:35", R),
        ("9720000", "2^6 * 3^5 * 5^4", A),
        ("1000.99", "1000,99", A),
        ("1", "1,000", R),
        ("1000", "1,000", A),
        ("(3,2)", "(p,q)=(3,2)", A),
        ("1, 2, 3", "x=1, y=2, z=3", A),
        ("1, 2, 3", "x=3, y=2, z=1", R),
        ("2x+3", "f(x)=2x+3", A),
        ("0", "a + 3z = 0", R),
        ("x < 1", "-x > -1", A),
        ("x < 1", "x > -1", R),
        ("x \\in [-2,7]", "-2 \\le x \\le 7", A),
        ("[-2,7]", "-2 < x \\le 7", R),
        ("(0,1)", "0<f(x)<1", A),
        ("(-\\infty, 3)", "x < 3", A),
        ("(-\\infty, -1) \\cup (1, \\infty)", "|x| > 1", A),
        ("11", "x = 5+5+1 = 11", A),
        ("\\cos x", "\\sin(90^\\circ - x)", A),
        ("\\sin x", "\\sin(90^\\circ - x)", R),
        ("[1,\\infty)", "[2^{1/2^{1000}},\\infty)", R),
        ("1", "2^{1/2^{1000}}", R),
        ("x", "x + 10^{-30}", R),
        ("\\sqrt{2}+1", "\\frac{1}{\\sqrt{2}-1}", A),
        ("\\text{Yes}", "yes", A),
        ("\\text{(C)}", "C", A),
        ("C", "D", R),
    ],
)
def test_grading_features(gold: str, answer: str, expected: Outcome) -> None:
    assert check(gold=gold, pred_text=f"\\boxed{{{answer}}}").outcome is expected


@pytest.mark.parametrize(
    ("reference", "answer"),
    [
        ("Since 2+2=4, we get $\\boxed{4}$.", "4"),
        ("\\boxed{1} and \\boxed{-2}", "1, -2"),
        ("work\n#### 72", "72"),
        ("\\frac{1}{2}", "\\frac{1}{2}"),
        ("$21,16$ or $11$", "$21,16$ or $11$"),
    ],
)
def test_reference_answer(reference: str, answer: str) -> None:
    assert reference_answer(reference) == answer


def test_statements_are_reported_in_order() -> None:
    got = extract_answer("\\boxed{12}\n#### 12\nThe answer is 15.")
    assert [(s.kind, s.text) for s in got.statements] == [("boxed", "12"), ("hash", "12"), ("answer_is", "15")]
    assert (got.answer, got.source) == ("15", "answer_is")


def test_canonical_form_groups_equivalent_answers() -> None:
    half = {check(gold="1/2", pred_text=t).canonical for t in ("\\boxed{0.5}", "\\boxed{\\frac12}", "The answer is 1/2.")}
    assert half == {"1/2"}
    assert check(gold="5", pred_text="x = 5").canonical == "5"
    assert check(gold="5", pred_text="no idea").canonical is None


def test_equivalent_answers_vote_together_in_maj_at_k() -> None:
    from verigen.metrics import ScoredItem, majority_correct

    texts = ["\\boxed{0.5}", "\\boxed{\\frac12}", "The answer is 1/2.", "\\boxed{3}", "\\boxed{3}"]
    verdicts = [check(gold="\\frac{1}{2}", pred_text=t) for t in texts]
    items = [ScoredItem(index=i, outcome=v.outcome, answer=v.canonical or v.answer) for i, v in enumerate(verdicts)]
    assert majority_correct(items) is True  # three ways of writing 1/2 outvote two 3s
    by_text = [ScoredItem(index=i, outcome=v.outcome, answer=v.answer) for i, v in enumerate(verdicts)]
    assert majority_correct(by_text) is False  # grouped by extracted text, 3 would win


def test_sample_records_read_rows_with_and_without_the_canonical_answer() -> None:
    from verigen.records import SampleRecord
    from verigen.types import Sample, SamplingParams, Verdict

    sample = Sample(problem_id="p", index=0, text="\\boxed{0.5}", model="m", params=SamplingParams())
    with_key = SampleRecord(task="t", sample=sample, verdict=Verdict(outcome=A, answer="0.5", canonical="1/2"))
    row = with_key.to_json()
    assert SampleRecord.from_json(row, "x").verdict.canonical == "1/2"
    old = dict(row, verdict={k: v for k, v in row["verdict"].items() if k != "canonical"})  # type: ignore[union-attr]
    assert "canonical" not in old["verdict"]  # type: ignore[operator]
    assert SampleRecord.from_json(old, "x").verdict.canonical is None

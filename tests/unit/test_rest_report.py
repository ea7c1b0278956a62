"""The loop report's numbers: metric cells from metrics.json and the paired change of
pass@1 against iteration 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from verigen.loops._rest_report import metric_cell, paired_delta


def test_paired_delta_pairs_problems_and_brackets_the_mean() -> None:
    base = {f"p{i}": 0.0 for i in range(40)}
    new = {f"p{i}": (1.0 if i % 4 == 0 else 0.0) for i in range(40)}
    new["extra"] = 1.0  # not in the base run: left out of the pairing
    mean, ci, n = paired_delta(base, new)
    assert n == 40 and mean == pytest.approx(0.25)
    assert ci is not None and 0.0 < ci[0] < 0.25 < ci[1] < 0.5
    same, ci_same, _ = paired_delta(base, base)
    assert same == 0.0 and ci_same == (0.0, 0.0)
    assert paired_delta({}, new) == (0.0, None, 0)
    assert paired_delta({"a": 0.0}, {"a": 1.0}) == (1.0, None, 1)


def test_metric_cell_reads_pass_and_maj_tables() -> None:
    metrics = {"pass@k": {"1": {"value": 0.25, "ci95": [0.1, 0.4]}, "4": {"value": 0.5, "ci95": None}},
               "maj@k": {"4": {"value": None, "ci95": None}}}
    assert metric_cell(metrics, "pass@k", 1).text() == "25.0 [10.0, 40.0]"
    assert metric_cell(metrics, "pass@k", "max").text() == "50.0"
    assert metric_cell(metrics, "maj@k", "max").text() == "-"
    assert metric_cell({}, "pass@k", 1).value is None


def test_zero_shot_checkpoint_is_compared_with_the_few_shot_base(tmp_path: Path) -> None:
    from tests.rundata import S, write_run
    from verigen.loops._rest_report import _against_fewshot
    from verigen.types import Outcome

    problems = [(f"p{i}", f"q{i}") for i in range(4)]

    def run(name: str, accepted: int) -> str:
        samples = [S(problem=f"p{i}", index=0, text="x", outcome=Outcome.ACCEPTED if i < accepted else Outcome.REJECTED,
                     answer="x") for i in range(4)]
        return str(write_run(tmp_path / name, problems, samples, mode="evaluate", split="test"))

    it0 = {"iteration": 0, "evals": {"heldout-t-test": {"run_dir": run("zero0", 0)},
                                     "fewshot2-t-test": {"run_dir": run("few0", 2)}}}
    it1 = {"iteration": 1, "evals": {"heldout-t-test": {"run_dir": run("zero1", 3)},
                                     "fewshot2-t-test": {"run_dir": run("few1", 3)}}}
    lines = _against_fewshot([it0, it1])
    assert len(lines) == 3 and "+25.0" in lines[2] and "fewshot2-t-test" in lines[2] and "4 problems" in lines[2]

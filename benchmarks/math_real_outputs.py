"""verigen's math ``check`` and Math-Verify on labelled real outputs, per source, side by side.

Rows: tests/data/math_cases.jsonl (reference, answer, expected, source). A row's source
family is the repository (or model) its text comes from; rows without a source are the
table's hand-written cases. For each family and each grader: false accepts (accepted, but
labelled rejected / no_answer) and false rejects (labelled accepted, not accepted); then
pairs/s of each grader over all rows, in one process pinned to one core, one timed pass
each (every pair is new to both; later passes would mostly measure SymPy's caches).

    .venv/bin/python benchmarks/math_real_outputs.py [--cases tests/data/math_cases.jsonl] [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from _graders import Grader, math_verify_grader, verigen_grader

log = logging.getLogger("bench.math_real_outputs")
TABLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "math_cases.jsonl"
_HAND_WRITTEN = "verigen table (hand-written)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    gold: str
    completion: str
    accept: bool  # what a careful grader does
    family: str


def family(source: str | None) -> str:
    """``openai/grade-school-math@3101c7d507 grade_school_math/...`` -> ``openai/grade-school-math``."""
    if not source:
        return _HAND_WRITTEN
    head = re.split(r"[@\s,(]", source.strip(), maxsplit=1)[0]
    style = re.search(r"prompt style (\w+)", source)
    return f"{head} ({style.group(1)})" if style else head


def load(path: Path) -> list[Row]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        rows.append(Row(gold=data["reference"], completion=data["answer"], accept=data["expected"] == "accepted",
                        family=family(data.get("source"))))
    return rows


@dataclass(frozen=True, slots=True, kw_only=True)
class Graded:
    verdicts: list[bool]
    seconds: float


def grade_all(name: str, grade: Grader, rows: list[Row], show_errors: bool) -> Graded:
    grade(rows[0].gold, rows[0].completion)  # warm imports
    start = time.perf_counter()
    verdicts = [grade(r.gold, r.completion) for r in rows]
    seconds = time.perf_counter() - start
    if show_errors:
        for verdict, row in zip(verdicts, rows, strict=True):
            if verdict != row.accept:
                log.info("%s %s (%s): gold %r completion %r", name,
                         "false accept" if verdict else "false reject", row.family, row.gold[-80:], row.completion[-160:])
    return Graded(verdicts=verdicts, seconds=seconds)


def _errors(verdicts: list[bool], rows: list[Row]) -> tuple[int, int]:
    fa = sum(v and not r.accept for v, r in zip(verdicts, rows, strict=True))
    fr = sum(r.accept and not v for v, r in zip(verdicts, rows, strict=True))
    return fa, fr


def report(rows: list[Row], ours: Graded, theirs: Graded) -> None:
    by_family: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_family[row.family].append(i)
    log.info("| source | rows | labelled accepted | verigen false accepts | verigen false rejects "
             "| Math-Verify false accepts | Math-Verify false rejects |")
    log.info("|---|---|---|---|---|---|---|")
    for name in sorted(by_family, key=lambda f: (f == _HAND_WRITTEN, f)):
        idx = by_family[name]
        part = [rows[i] for i in idx]
        o_fa, o_fr = _errors([ours.verdicts[i] for i in idx], part)
        t_fa, t_fr = _errors([theirs.verdicts[i] for i in idx], part)
        log.info("| %s | %d | %d | %d | %d | %d | %d |", name, len(part), sum(r.accept for r in part),
                 o_fa, o_fr, t_fa, t_fr)
    positives = sum(r.accept for r in rows)
    for label, graded in (("verigen", ours), ("Math-Verify", theirs)):
        fa, fr = _errors(graded.verdicts, rows)
        log.info("%-11s all %d rows: %d false accepts, %d false rejects (%.2f%% of %d correct answers), %.1f pairs/s",
                 label, len(rows), fa, fr, 100 * fr / max(1, positives), positives, len(rows) / graded.seconds)
    log.info("speed ratio verigen / Math-Verify: %.1fx", theirs.seconds / ours.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=TABLE, help="labelled JSONL table")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to")
    parser.add_argument("--real-only", action="store_true", help="leave out the hand-written rows")
    parser.add_argument("--show-errors", action="store_true", help="log every misgraded row")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.sched_setaffinity(0, {args.cpu})
    rows = load(args.cases)
    if args.real_only:
        rows = [r for r in rows if r.family != _HAND_WRITTEN]
    log.info("rows: %d from %d sources, pinned to cpu %d", len(rows), len({r.family for r in rows}), args.cpu)
    ours = grade_all("verigen", verigen_grader(), rows, args.show_errors)
    theirs = grade_all("math-verify", math_verify_grader(), rows, args.show_errors)
    report(rows, ours, theirs)


if __name__ == "__main__":
    main()

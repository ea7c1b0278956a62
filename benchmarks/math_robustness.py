"""Robustness bars of verigen's math ``check`` on the MATH data (no peer; counts, not speed).

- ``solutions``: every MATH test solution graded against its own last boxed answer
  (solutions with no box, or several different boxes, are skipped): all ACCEPTED.
- ``math500``: every MATH-500 ``answer`` against its full reference ``solution``.
- ``mutations``: every one-digit mutation (d -> d+1 and d -> d-1 mod 10, each digit of
  each distinct MATH-500 answer), boxed: none ACCEPTED, except where the digit only changes
  presentation (listed).

    .venv/bin/python benchmarks/math_robustness.py --data-dir ../shared/data [--only solutions]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from verigen.types import Outcome
from verigen.verify.math import check
from verigen.verify.math.extract import boxed_contents

log = logging.getLogger("bench.math_robustness")


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def solutions(data: Path) -> tuple[int, list[str]]:
    """(graded, failures) for MATH test solutions against their own boxed answer."""
    graded, failures = 0, []
    for row in _rows(data / "math" / "test.jsonl"):
        solution = str(row["solution"])
        boxes = boxed_contents(solution)
        if not boxes or len({re.sub(r"\s+", "", b) for b in boxes}) > 1:
            continue
        graded += 1
        verdict = check(gold=boxes[-1], pred_text=solution)
        if verdict.outcome is not Outcome.ACCEPTED:
            failures.append(f"{row['unique_id']}: {verdict.outcome.value} {verdict.detail} (gold {boxes[-1]!r})")
    return graded, failures


def math500(data: Path) -> tuple[int, list[str]]:
    failures = []
    rows = _rows(data / "math500" / "test.jsonl")
    for row in rows:
        verdict = check(gold=str(row["answer"]), pred_text=str(row["solution"]))
        if verdict.outcome is not Outcome.ACCEPTED:
            failures.append(f"{row['unique_id']}: {verdict.outcome.value} {verdict.detail} (gold {row['answer']!r})")
    return len(rows), failures


def _mutations(answer: str) -> Iterator[str]:
    for match in re.finditer(r"\d", answer):
        for step in (1, 9):
            digit = str((int(match.group(0)) + step) % 10)
            yield answer[: match.start()] + digit + answer[match.end() :]


def mutations(data: Path) -> tuple[int, list[str]]:
    answers = sorted({str(r["answer"]) for r in _rows(data / "math500" / "test.jsonl")})
    graded, accepted = 0, []
    for answer in answers:
        for mutant in _mutations(answer):
            graded += 1
            if check(gold=answer, pred_text=f"\\boxed{{{mutant}}}").outcome is Outcome.ACCEPTED:
                accepted.append(f"{answer!r} accepted {mutant!r}")
    return graded, accepted


CHECKS = {"solutions": solutions, "math500": math500, "mutations": mutations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", "../shared/data")))
    parser.add_argument("--only", choices=sorted(CHECKS), action="append", help="run only these checks")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.only or list(CHECKS):
        start = time.perf_counter()
        graded, odd = CHECKS[name](args.data_dir)
        log.info("%s: %d graded, %d %s (%.0f s)", name, graded, len(odd),
                 "accepted" if name == "mutations" else "not accepted", time.perf_counter() - start)
        for line in odd:
            log.info("  %s", line)


if __name__ == "__main__":
    main()

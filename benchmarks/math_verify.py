"""verigen's math ``check`` vs Math-Verify, side by side, in one process on one core.

Pairs: every MATH-500 reference answer with three model-style completions derived from it
(the exact gold boxed, an equivalent rewrite, a wrong variant), deduplicated. For each
grader: pairs/s, and agreement with the expected label.

    .venv/bin/python benchmarks/math_verify.py --data-dir ../shared/data [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _graders import math_verify_grader, verigen_grader

log = logging.getLogger("bench.math_verify")

_INT_RE = re.compile(r"-?\d+")
_FRAC_RE = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
_DEC_RE = re.compile(r"-?\d*\.\d+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    gold: str
    completion: str
    expected: bool  # True: a careful grader accepts it
    kind: str  # exact | rewrite | wrong


def _plain(gold: str) -> str:
    """The gold without MATH's presentational thousands separators."""
    return re.sub(r",\\!\s*", "", gold)


def rewrite(gold: str) -> str | None:
    """An equivalent form of ``gold`` that a model might write, or None if none is safe."""
    g = _plain(gold).strip()
    if _INT_RE.fullmatch(g):
        n = int(g)
        return f"{n:,}" if abs(n) >= 1000 else f"{n}.0"
    match = _FRAC_RE.fullmatch(g)
    if match is not None:
        return f"{match.group(1)}{match.group(2)}/{match.group(3)}"
    if _DEC_RE.fullmatch(g):
        return g + "0" if "." in g else None
    if g.endswith("^\\circ"):
        return g[: -len("^\\circ")] + " degrees"
    if "pmatrix" in g:
        return g.replace("pmatrix", "bmatrix")
    if g.startswith("\\text{") and g.endswith("}"):
        return g[len("\\text{") : -1]
    if g.startswith("(") and g.endswith(")") and "\\cup" not in g:
        return "\\left(" + g[1:-1] + "\\right)"
    if "\\frac" in g and "\\dfrac" not in g:
        return g.replace("\\frac", "\\dfrac")
    return None


def wrong(gold: str) -> str | None:
    """A close but wrong answer (off by one, swapped, other ends), or None if none is safe."""
    g = _plain(gold).strip()
    if _INT_RE.fullmatch(g):
        return str(int(g) + 1)
    match = _FRAC_RE.fullmatch(g)
    if match is not None:
        return f"{match.group(1)}\\frac{{{int(match.group(2)) + 1}}}{{{match.group(3)}}}"
    if _DEC_RE.fullmatch(g):
        return g[:-1] + str((int(g[-1]) + 1) % 10)
    if g.startswith("\\text{") or "matrix" in g or "\\in" in g or "_" in g:
        return None
    if re.fullmatch(r"\([^()]*\]", g):
        return "(" + g[1:-1] + ")"
    if re.fullmatch(r"\(-?\d+,\s*-?\d+\)", g):
        a, b = g[1:-1].split(",")
        return None if a.strip() == b.strip() else f"({b.strip()}, {a.strip()})"
    if "," in g or "=" in g or "\\cup" in g or "\\pm" in g:
        return None
    return f"2\\left({g}\\right)" if g not in ("0",) else "1"


def _wrap(answer: str, style: int) -> str:
    styles = (
        "So the answer is $\\boxed{{{a}}}$.",
        "Putting it together, we get the result.\n\nFinal Answer: The final answer is ${a}$. I hope it is correct.",
        "Therefore, the value is \\(\\boxed{{{a}}}\\).",
    )
    return styles[style % len(styles)].format(a=answer)


def derive_pairs(golds: list[str]) -> list[Pair]:
    """Exact, rewrite and wrong completions for each gold, deduplicated."""
    pairs: dict[tuple[str, str], Pair] = {}
    for i, gold in enumerate(golds):
        candidates = [("exact", gold, True), ("rewrite", rewrite(gold), True), ("wrong", wrong(gold), False)]
        for kind, answer, expected in candidates:
            if answer is None:
                continue
            completion = _wrap(answer, i)
            pairs.setdefault((gold, completion), Pair(gold=gold, completion=completion, expected=expected, kind=kind))
    return list(pairs.values())


def load_table(path: Path) -> list[Pair]:
    """The labelled table; a pair is expected accepted only when labelled "accepted"."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pairs.append(Pair(gold=row["reference"], completion=row["answer"],
                          expected=row["expected"] == "accepted", kind="rewrite" if row["expected"] == "accepted" else "wrong"))
    return pairs


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    name: str
    pairs_per_s: float
    correct: int
    false_accepts: int
    false_rejects: int


def run(name: str, grade: Callable[[str, str], bool], pairs: list[Pair], repeat: int,
        show_errors: bool = False) -> Result:
    grade(pairs[0].gold, pairs[0].completion)  # warm imports
    verdicts: list[bool] = []
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        verdicts = [grade(p.gold, p.completion) for p in pairs]
        best = min(best, time.perf_counter() - start)
    if show_errors:
        for v, p in zip(verdicts, pairs):
            if v != p.expected:
                log.info("%s misgraded (%s): gold %r completion %r", name, p.kind, p.gold, p.completion)
    fa = sum(v and not p.expected for v, p in zip(verdicts, pairs))
    fr = sum(p.expected and not v for v, p in zip(verdicts, pairs))
    return Result(name=name, pairs_per_s=len(pairs) / best, correct=len(pairs) - fa - fr,
                  false_accepts=fa, false_rejects=fr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", "../shared/data")))
    parser.add_argument("--repeat", type=int, default=1, help="timed passes; the best is kept (later passes hit SymPy caches)")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to")
    parser.add_argument("--cases", type=Path, default=None,
                        help="grade a labelled table (tests/data/math_cases.jsonl) instead of MATH-500 pairs")
    parser.add_argument("--show-errors", action="store_true", help="log every misgraded pair")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.sched_setaffinity(0, {args.cpu})
    if args.cases is not None:
        pairs = load_table(args.cases)
    else:
        path = args.data_dir / "math500" / "test.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line]
        pairs = derive_pairs([str(r["answer"]) for r in rows])
    log.info("pairs: %d (exact %d, rewrite %d, wrong %d), pinned to cpu %d", len(pairs),
             *(sum(p.kind == k for p in pairs) for k in ("exact", "rewrite", "wrong")), args.cpu)
    results = [run("verigen", verigen_grader(), pairs, args.repeat, args.show_errors),
               run("math-verify", math_verify_grader(), pairs, args.repeat, args.show_errors)]
    for r in results:
        log.info("%-12s %8.1f pairs/s  correct %d/%d (%.2f%%)  false accepts %d  false rejects %d",
                 r.name, r.pairs_per_s, r.correct, len(pairs), 100 * r.correct / len(pairs),
                 r.false_accepts, r.false_rejects)
    log.info("speed ratio verigen / math-verify: %.1fx", results[0].pairs_per_s / results[1].pairs_per_s)


if __name__ == "__main__":
    main()

"""Self-play admission on human-written puzzles: P3's own puzzles through the same checks a
model-written puzzle gets (parse, probes in the sandbox, PuzzleVerifier on their reference
bodies, near-duplicates against the P3 test families), so the screen's false-drop rate on
puzzles known to be good is measured, not assumed.

    .venv/bin/python benchmarks/selfplay_admission.py --split train --sandbox bwrap [--every 4]

Prints counts per status and stage, the trivial / constant drops by name, and wall time.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from verigen.selfplay import AdmissionConfig, NearDuplicates, PuzzleAdmission, fingerprint
from verigen.task import TaskContext, create_task
from verigen.verify.puzzle import Puzzle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", "../shared/data")))
    ap.add_argument("--split", default="train")
    ap.add_argument("--sandbox", default="bwrap")
    ap.add_argument("--every", type=int, default=1, help="every k-th puzzle only")
    args = ap.parse_args()
    task = create_task("p3", {}, TaskContext(data_dir=args.data_dir, sandbox=args.sandbox))
    puzzles = [p.reference for p in task.problems(split=args.split, seed=0) if isinstance(p.reference, Puzzle)]
    puzzles = puzzles[:: args.every]
    index = NearDuplicates()
    if args.split != "test":
        for p in task.problems(split="test", seed=0):
            fp = fingerprint(p.reference.sat) if isinstance(p.reference, Puzzle) else None
            if fp is not None:
                index.add(p.reference.name, fp)  # type: ignore[union-attr]
    admission = PuzzleAdmission(sandbox=args.sandbox, config=AdmissionConfig(workers=2))
    start = time.perf_counter()
    stages: Counter[str] = Counter()
    notes: list[str] = []
    try:
        for p in puzzles:
            screened = admission.screen(p.name, p.sat)
            verdict = screened.verdict
            if verdict is None and screened.puzzle is not None:
                solutions = [f"```python\n{p.reference(i)}```" for i in range(len(p.sol_bodies))]
                [verdict] = admission.judge([screened.puzzle], [solutions])
                if verdict.status == "keep":
                    fp = fingerprint(p.sat)
                    hit = index.match(fp) if fp is not None else None
                    if hit is not None:
                        stages["drop/duplicate (of a test puzzle)"] += 1
                        continue
            if verdict is None:
                continue
            stages[f"{verdict.status}/{verdict.stage}"] += 1
            if verdict.status != "keep":
                notes.append(f"  {p.name}: {verdict.stage}: {verdict.reason[:110]}")
    finally:
        admission.close()
    wall = time.perf_counter() - start
    print(f"P3 {args.split}: {len(puzzles)} puzzles, {wall:.1f} s ({wall / max(1, len(puzzles)):.3f} s/puzzle)")
    for key, n in sorted(stages.items()):
        print(f"  {key}: {n}")
    print("dropped or error:")
    print("\n".join(notes) or "  none")


if __name__ == "__main__":
    main()

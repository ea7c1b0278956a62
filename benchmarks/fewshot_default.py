"""pass@1 of the `make run` job (verigen/configs/default.toml) with K worked examples.

Runs ``verigen generate --config verigen/configs/default.toml --set task.limit=N
--set task.fewshot=K`` for each K (same problems, same sampling seed) and prints pass@1
with its bootstrap CI, the mean completion length and the wall time, side by side.

    .venv/bin/python benchmarks/fewshot_default.py --limit 24 --shots 2 0 --out runs/fewshot
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(k: int, limit: int, out: Path) -> dict[str, object]:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "verigen.cli", "generate", "--config", str(REPO / "verigen/configs/default.toml"),
         "--set", f"task.limit={limit}", "--set", f"task.fewshot={k}", "--out", str(out)],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()]
    tokens = sum(int(s["completion_tokens"] or 0) for s in samples) / max(1, len(samples))
    return {"k": k, "pass@1": metrics["pass@k"]["1"], "outcomes": metrics["outcomes"],
            "mean_completion_tokens": round(tokens, 1), "wall_s": round(time.monotonic() - started)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--shots", type=int, nargs="+", default=[2, 0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "fewshot")
    opts = parser.parse_args()
    for k in opts.shots:
        row = run(k, opts.limit, opts.out / f"k{k}")
        p1: dict[str, object] = row["pass@1"]  # type: ignore[assignment]
        ci: list[float] = p1["ci95"]  # type: ignore[assignment]
        sys.stdout.write(f"fewshot={k}: pass@1 {p1['value']:.3f} (95% CI {ci[0]:.3f}-{ci[1]:.3f}, "
                         f"{p1['problems']} problems), outcomes {row['outcomes']}, "
                         f"{row['mean_completion_tokens']} completion tokens/sample, {row['wall_s']}s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""ReST-EM for real on the CPU: the default model (SmolLM2-135M-Instruct), procedural
arithmetic for training, the disjoint arithmetic test split and GSM8K test held out.

Runs ``verigen rest`` (resumable: rerun the same command to continue a killed run), then
prints the iteration table of the loop's report.md and the exact-prompt overlap between the
training problems and the held-out arithmetic problems (procedural splits of small numbers
can repeat a problem; 13-gram decontamination cannot see prompts this short).

    .venv/bin/python benchmarks/rest_em.py --train 48 --heldout 48 --gsm8k 16 -n 4 --iterations 2 --out runs/rest-em
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=48, help="training problems (arithmetic train split)")
    parser.add_argument("--heldout", type=int, default=48, help="held-out arithmetic test problems")
    parser.add_argument("--gsm8k", type=int, default=16, help="GSM8K test problems (0: none)")
    parser.add_argument("-n", type=int, default=4, help="samples per problem")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-5, help="M-step learning rate")
    parser.add_argument("--difficulty", type=int, default=1)
    parser.add_argument("--fewshot", type=int, default=2, help="few-shot baseline shots (0: off)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", REPO.parent / "shared" / "data")),
                        help="benchmark data (GSM8K; also what the E-step is decontaminated against)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "rest-em")
    opts = parser.parse_args()
    evals = [{"name": "arithmetic", "split": "test", "limit": opts.heldout,
              "args": {"difficulty": opts.difficulty}}]
    if opts.gsm8k:
        evals.append({"name": "gsm8k", "split": "test", "limit": opts.gsm8k, "data_dir": str(opts.data_dir)})
    sets = [
        "task.name=arithmetic", f"task.limit={opts.train}", f"task.data_dir={opts.data_dir}",
        f"task.args.difficulty={opts.difficulty}",
        "model.backend=transformers", "model.name=default", f"sampling.n={opts.n}", "sampling.temperature=0.7",
        f"sampling.max_tokens={opts.max_tokens}", f"train.epochs={opts.epochs}", f"train.learning_rate={opts.lr}",
        "train.batch_size=4", f"rest.iterations={opts.iterations}", f"rest.fewshot_baseline={opts.fewshot}",
        f"rest.eval_tasks={json.dumps(evals)}", "rest.max_per_problem=4", "output.report_plots=true",
    ]
    started = time.monotonic()
    cmd = [sys.executable, "-m", "verigen.cli", "rest", "--out", str(opts.out), *(x for s in sets for x in ("--set", s))]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    report = (opts.out / "report.md").read_text(encoding="utf-8")
    sys.stdout.write(report + f"\nwall time of this invocation: {wall:.0f} s\n")
    sys.stdout.write(f"exact prompt overlap train/held-out arithmetic: {_overlap(opts.out)}\n")
    return 0


def _overlap(out: Path) -> str:
    def prompts(path: Path) -> set[str]:
        if not path.exists():
            return set()
        return {str(json.loads(line)["prompt"]) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}

    train = prompts(out / "iter_1" / "estep" / "problems.jsonl")
    held = prompts(next(iter(sorted((out / "iter_0" / "eval").glob("heldout-arithmetic-*/problems.jsonl"))), Path("-")))
    return f"{len(train & held)} of {len(held)} held-out prompts also in the {len(train)} training prompts"


if __name__ == "__main__":
    raise SystemExit(main())

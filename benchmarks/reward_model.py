"""Reward-model held-out pairwise accuracy from a real verigen run of the default model.

1. ``verigen generate`` with the ``make run`` job (verigen/configs/default.toml: arithmetic
   difficulty 1, two-shot prompts, SmolLM2-135M-Instruct through transformers) on more
   problems and samples (resumable: rerun the same command to continue a killed run);
2. ``verigen export RUN --format rm``: rm.jsonl and rm_ranked.jsonl (verified = chosen);
3. ``verigen train-rm`` on rm_ranked.jsonl (every ordered (verified, rejected) pair of each
   problem) from the same default model, a share of the PROMPTS held out;
4. prints the held-out pairwise accuracy beside the untrained head's and two trivial
   heuristics on the same held-out pairs (the shorter response wins / the longer one wins),
   and best-of-n@k of the trained RM on the held-out problems' samples (every sample of those
   problems, not just the paired ones) beside random choice (k = 1) and the oracle.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reward_model.py --problems 120 -n 8 --data-dir ../shared/data \
        --out runs/rm-bench
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _verigen(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "verigen.cli", *args], check=True, cwd=REPO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=120, help="arithmetic train problems")
    parser.add_argument("-n", type=int, default=8, help="samples per problem")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--eval-fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0, help="split and head seed")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "rm-bench")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", "../shared/data")),
                        help="benchmark data the export is decontaminated against (GSM8K, MATH, ...)")
    opts = parser.parse_args()
    run, rm = opts.out / "run", opts.out / "rm"
    t0 = time.monotonic()
    _verigen("generate", "--config", "verigen/configs/default.toml", "--set", f"task.limit={opts.problems}",
             "--set", f"task.args.count={max(100, 2 * opts.problems)}",
             "--set", f"sampling.n={opts.n}", "--set", f"sampling.max_tokens={opts.max_tokens}", "--out", str(run))
    t1 = time.monotonic()
    _verigen("export", str(run), "--format", "rm", "--data-dir", str(opts.data_dir))
    sets = {"epochs": opts.epochs, "learning_rate": opts.lr, "batch_size": opts.batch_size,
            "max_length": opts.max_length, "eval_fraction": opts.eval_fraction, "seed": opts.seed}
    _verigen("train-rm", "--data", str(run / "rm_ranked.jsonl"), "--model", "default", "--out", str(rm),
             *(x for k, v in sets.items() for x in ("--set", f"rm.{k}={v}")))
    t2 = time.monotonic()
    _report(run, rm, opts, generate_s=t1 - t0, train_s=t2 - t1)
    return 0


def _report(run: Path, rm: Path, opts: argparse.Namespace, *, generate_s: float, train_s: float) -> None:
    from verigen.runview import load_run
    from verigen.select import best_of_n_at_k
    from verigen.train import pairwise_accuracy, read_preferences, reward_scores, split_by_prompt
    from verigen.train._rm_data import prompt_key
    from verigen.types import Outcome

    m = json.loads((rm / "train-rm.json").read_text())
    pairs = read_preferences(run / "rm_ranked.jsonl")
    _, held = split_by_prompt(pairs, opts.eval_fraction, opts.seed)
    shorter = pairwise_accuracy([-len(p.chosen) for p in held], [-len(p.rejected) for p in held]) if held else None
    longer = pairwise_accuracy([len(p.chosen) for p in held], [len(p.rejected) for p in held]) if held else None
    view = load_run(run)
    prompts = view.prompts()
    held_keys = {p.prompt_key for p in held}
    held_pids = [pid for pid, msgs in prompts.items() if prompt_key(msgs) in held_keys]
    recs = {pid: sorted((r for r in view.records if r.sample.problem_id == pid and r.verdict.outcome is not Outcome.ERROR),
                        key=lambda r: r.sample.index) for pid in held_pids}
    items = [(prompts[pid], r.sample.text) for pid in held_pids for r in recs[pid]]
    flat = iter(reward_scores(str(rm), items))
    ks = [k for k in (1, 2, 4, 8) if k <= opts.n]
    rm_at: dict[int, list[float]] = {k: [] for k in ks}
    oracle_at: dict[int, list[float]] = {k: [] for k in ks}
    for pid in held_pids:
        correct = [r.verdict.outcome is Outcome.ACCEPTED for r in recs[pid]]
        scores = [next(flat) for _ in correct]
        for k in ks:
            if len(correct) >= k:
                rm_at[k].append(best_of_n_at_k(correct, scores, k))
                oracle_at[k].append(best_of_n_at_k(correct, [1.0 if c else 0.0 for c in correct], k))
    samples = sum(1 for r in view.records if r.verdict.outcome is not Outcome.ERROR)
    accepted = sum(1 for r in view.records if r.verdict.outcome is Outcome.ACCEPTED)
    h = m["heldout"]
    lines = [
        f"run: {opts.problems} problems x n={opts.n}: {samples} samples, {accepted} accepted; "
        f"generate {generate_s:.0f} s, export + train-rm {train_s:.0f} s",
        f"pairs: {m['pairs']} ({m['train']['pairs']} train on {m['train']['prompts']} prompts, "
        f"{h['pairs']} held out on {h['prompts']} prompts)",
        f"train-rm: {m['steps']} steps, loss {m['loss_first']:.4f} -> {m['loss_last']:.4f}, {m['seconds']:.0f} s on {m['device']}",
        "",
        "| held-out pairwise accuracy | value |",
        "|---|---|",
        f"| trained reward model | {_f(h['accuracy'])} |",
        f"| untrained head (same base) | {_f(h['accuracy_before'])} |",
        f"| shorter response wins | {_f(shorter)} |",
        f"| longer response wins | {_f(longer)} |",
        "",
        f"best-of-n@k on the {len(held_pids)} held-out problems (all their samples):",
        "",
        "| k | " + " | ".join(str(k) for k in ks) + " |",
        "|---|" + "---|" * len(ks),
        "| rm | " + " | ".join(_f(_mean(rm_at[k])) for k in ks) + " |",
        "| oracle (pass@k) | " + " | ".join(_f(_mean(oracle_at[k])) for k in ks) + " |",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _f(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"


if __name__ == "__main__":
    raise SystemExit(main())

"""How far the LLM judge agrees with the verifier: the default model (SmolLM2-135M-Instruct)
answers arithmetic problems (``verigen evaluate``), then judges its own answers on the
additive 5-point rubric (``verigen.judge``); accuracy of score >= threshold against the
verdict, AUC of score vs verdict, the unparseable judgements, and best-of-n@k of
``--select judge`` beside oracle and majority.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/judge_agreement.py --limit 16 -n 4 --out /tmp/judge-agreement

Rerunning with the same --out resumes the evaluate run (no sample drawn twice); the judge
runs again each time (greedy, so it gives the same judgements).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arithmetic")
    parser.add_argument("--task-arg", action="append", default=["difficulty=1"], help="KEY=VALUE (repeatable)")
    parser.add_argument("--data-dir", type=Path, default=None, help="benchmark data (gsm8k)")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128, help="answer tokens")
    parser.add_argument("--judge-tokens", type=int, default=192, help="judgement tokens")
    parser.add_argument("--threshold", type=float, default=3.0)
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "judge-agreement")
    opts = parser.parse_args()
    started = time.monotonic()
    cmd = [sys.executable, "-m", "verigen.cli", "evaluate", "--task", opts.task, "--limit", str(opts.limit),
           "-n", str(opts.n), "--max-tokens", str(opts.max_tokens), "--temperature", "0.7",
           "--backend", "transformers", "--model", opts.model, "--out", str(opts.out)]
    for arg in opts.task_arg:
        cmd += ["--task-arg", arg]
    if opts.data_dir:
        cmd += ["--data-dir", str(opts.data_dir)]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    sampled = time.monotonic() - started

    from verigen.judge import JudgeConfig, open_judge
    from verigen.runview import load_run
    from verigen.select import JudgeSetup, select_run

    run = load_run(opts.out)
    sampler = open_judge(run.config.model)
    try:
        setup = JudgeSetup(sampler=sampler, config=JudgeConfig(max_tokens=opts.judge_tokens, threshold=opts.threshold))
        report = select_run(run, ["oracle", "majority", "judge"], judge=setup)
    finally:
        sampler.close()
    judged = time.monotonic() - started - sampled
    a = report.judge_agreement
    if a is None:
        raise SystemExit("no judge agreement computed")

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    w = sys.stdout.write
    w(f"{opts.task} {' '.join(opts.task_arg)}: {len(run.problems)} problems, n = {opts.n}; judge {report.judge_model}\n\n")
    w("| samples | scored | accepted / rejected (scored) | unparseable judgements | "
      f"accuracy (score >= {opts.threshold:g}) | AUC | mean score accepted / rejected |\n|---|---|---|---|---|---|---|\n")
    w(f"| {a.samples} | {a.scored} | {a.positives} / {a.negatives} | {a.unparseable_judgements} of {a.judgements} | "
      f"{f(a.accuracy)} | {f(a.auc)} | {f(a.mean_score_accepted)} / {f(a.mean_score_rejected)} |\n\n")
    w(f"unparseable, why: {json.dumps(dict(a.reasons))}\n")
    rows = [json.loads(line) for line in (opts.out / "judge.jsonl").read_text(encoding="utf-8").splitlines()]
    hist: dict[str, int] = {}
    for r in rows:
        key = "none" if r["score"] is None else f"{r['score']:g}"
        hist[key] = hist.get(key, 0) + 1
    w(f"score histogram: {json.dumps(dict(sorted(hist.items())))}\n\n")
    ks = sorted({k for c in report.curves for k in c.at_k})
    w("| strategy | " + " | ".join(f"best-of-n@{k}" for k in ks) + " |\n|---|" + "---|" * len(ks) + "\n")
    for c in report.curves:
        w(f"| {c.strategy} | " + " | ".join(f(c.at_k.get(k)) for k in ks) + " |\n")
    w(f"\nwall: sampling {sampled:.0f} s, judging {judged:.0f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""best-of-n@k per selection strategy on GSM8K and HumanEval with one model (default: the
embedded SmolLM2-135M-Instruct): one ``verigen evaluate --select`` run per benchmark, so
every strategy picks from the same sample pool; the table puts pass@k (= the oracle) and
maj@k beside the majority vote, the likelihood pick (mean token log-probability under
``--scorer-model``) and, with ``--rm-model``, a trained reward model.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/best_of_n.py --data-dir ../shared/data \
        --gsm8k 48 --humaneval 48 -n 8 --out /tmp/best-of-n

Rerunning with the same --out resumes the evaluate runs (no sample drawn twice) and scores
the pool again. The LLM judge is not run here: the default model writes no parseable
judgement (benchmarks/RESULTS.md, "LLM judge vs the verifier"), so its pick is positional.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Bench:
    task: str
    limit: int
    max_tokens: int
    extra: tuple[str, ...]  # further `verigen evaluate` arguments


def run_one(bench: Bench, opts: argparse.Namespace) -> tuple[Path, float]:
    out = opts.out / bench.task
    strategies = "oracle,majority,likelihood" + (",rm" if opts.rm_model else "")
    cmd = [sys.executable, "-m", "verigen.cli", "evaluate", "--task", bench.task, "--split", "test",
           "--limit", str(bench.limit), "-n", str(opts.n), "--max-tokens", str(bench.max_tokens),
           "--temperature", str(opts.temperature), "--backend", "transformers", "--model", opts.model,
           "--data-dir", str(opts.data_dir), "--select", strategies, "--scorer-model", opts.scorer_model,
           "--out", str(out), *bench.extra]
    if opts.rm_model:
        cmd += ["--rm-model", str(opts.rm_model)]
    started = time.monotonic()
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return out, time.monotonic() - started


def table(out: Path, wall: float) -> str:
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    selection = json.loads((out / "selection.json").read_text(encoding="utf-8"))
    curves: dict[str, dict[str, float | None]] = selection["best_of_n@k"]
    ks = sorted({int(k) for c in curves.values() for k in c})

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    def ci(k: int) -> str:
        cell = metrics["pass@k"].get(str(k), {})
        bounds = cell.get("ci95")
        return "" if not bounds else f" [{bounds[0]:.3f}, {bounds[1]:.3f}]"

    o = metrics["outcomes"]
    lines = [f"{metrics['task']} ({metrics['split']}), {metrics['model']}: {metrics['problems']} problems, "
             f"{metrics['samples']} samples (accepted {o['accepted']}, rejected {o['rejected']}, no answer "
             f"{o['no_answer']}, timeout {o['timeout']}, error {o['error']}); problems with an accepted sample: "
             f"{metrics['accepted_problems']}; scorer {selection.get('scorer')}, reward model "
             f"{selection.get('rm_model')}; wall {wall:.0f} s", "",
             "| strategy | " + " | ".join(f"best-of-n@{k}" for k in ks) + " |",
             "|---|" + "---|" * len(ks)]
    lines.append("| pass@k (95% CI) | " + " | ".join(f(metrics["pass@k"].get(str(k), {}).get("value")) + ci(k)
                                                 for k in ks) + " |")
    lines.append("| maj@k | " + " | ".join(f(metrics["maj@k"].get(str(k), {}).get("value")) for k in ks) + " |")
    for name, curve in curves.items():
        lines.append(f"| {name} | " + " | ".join(f(curve.get(str(k))) for k in ks) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="benchmark data (gsm8k/, humaneval/)")
    parser.add_argument("--gsm8k", type=int, default=48, help="GSM8K test problems (0: skip)")
    parser.add_argument("--humaneval", type=int, default=48, help="HumanEval problems (0: skip)")
    parser.add_argument("-n", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--gsm8k-tokens", type=int, default=256)
    parser.add_argument("--humaneval-tokens", type=int, default=256)
    parser.add_argument("--fewshot", type=int, default=2, help="GSM8K worked examples from the train split")
    parser.add_argument("--model", default="default")
    parser.add_argument("--scorer-model", default="default", help="causal LM of the likelihood strategy")
    parser.add_argument("--rm-model", type=Path, default=None, help="a `verigen train-rm` folder: adds --select rm")
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "best-of-n")
    opts = parser.parse_args()
    benches = []
    if opts.gsm8k:
        benches.append(Bench("gsm8k", opts.gsm8k, opts.gsm8k_tokens, ("--set", f"task.fewshot={opts.fewshot}")))
    if opts.humaneval:
        benches.append(Bench("humaneval", opts.humaneval, opts.humaneval_tokens, ("--sandbox", opts.sandbox)))
    if not benches:
        parser.error("nothing to run: --gsm8k and --humaneval are both 0")
    for bench in benches:
        out, wall = run_one(bench, opts)
        sys.stdout.write(table(out, wall) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

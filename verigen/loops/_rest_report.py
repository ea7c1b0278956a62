"""The loop's report: an iteration x evaluation table (pass@1, pass@k, maj@k with 95% CIs),
the paired change of pass@1 against iteration 0 on the same problems and seeds, and a plot
of train against held-out pass@1 across iterations (the paper's overfitting picture)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from verigen.rundir import atomic_write
from verigen.types import JSONValue, Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    value: float | None
    ci95: tuple[float, float] | None

    def text(self) -> str:
        if self.value is None:
            return "-"
        ci = f" [{100 * self.ci95[0]:.1f}, {100 * self.ci95[1]:.1f}]" if self.ci95 else ""
        return f"{100 * self.value:.1f}{ci}"


def metric_cell(metrics: JSONValue, family: str, k: int | str) -> Cell:
    """``metrics.json``'s ``pass@k`` / ``maj@k`` entry at ``k`` ("max": the largest)."""
    table = metrics.get(family) if isinstance(metrics, dict) else None
    if not isinstance(table, dict) or not table:
        return Cell(value=None, ci95=None)
    key = str(max(int(x) for x in table)) if k == "max" else str(k)
    entry = table.get(key)
    if not isinstance(entry, dict):
        return Cell(value=None, ci95=None)
    value = entry.get("value")
    ci = entry.get("ci95")
    pair = (float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None  # type: ignore[arg-type]
    return Cell(value=float(value) if isinstance(value, (int, float)) else None, ci95=pair)


def per_problem_pass(run_dir: Path) -> dict[str, float]:
    """Accepted / usable samples of every problem of an evaluate run (ERROR left out)."""
    from verigen.runview import load_run

    counts: dict[str, list[int]] = {}
    for rec in load_run(run_dir).records:
        if rec.verdict.outcome is Outcome.ERROR:
            continue
        c = counts.setdefault(rec.sample.problem_id, [0, 0])
        c[0] += rec.verdict.outcome is Outcome.ACCEPTED
        c[1] += 1
    return {pid: a / n for pid, (a, n) in counts.items() if n}


def paired_delta(base: Mapping[str, float], new: Mapping[str, float], *, rounds: int = 2000,
                 seed: int = 0) -> tuple[float, tuple[float, float] | None, int]:
    """Mean per-problem change of pass@1, its paired bootstrap 95% CI, and the problems paired."""
    common = sorted(set(base) & set(new))
    diffs = [new[p] - base[p] for p in common]
    if not diffs:
        return 0.0, None, 0
    mean = math.fsum(diffs) / len(diffs)
    if len(diffs) < 2:
        return mean, None, len(diffs)
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(math.fsum(rng.choices(diffs, k=n)) / n for _ in range(rounds))
    return mean, (means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]), n


def _evals(it: JSONValue) -> dict[str, JSONValue]:
    evals = it.get("evals") if isinstance(it, dict) else None
    return evals if isinstance(evals, dict) else {}


def table_rows(iterations: Sequence[JSONValue]) -> list[str]:
    labels = list(_evals(iterations[0])) if iterations else []
    lines = ["| iteration | trained rows | evaluation | n | pass@1 % [95% CI] | pass@n % | maj@n % "
             "| pass@1 change vs iter 0 (paired) |",
             "|---|---|---|---|---|---|---|---|"]
    base_rates: dict[str, dict[str, float]] = {}
    for it in iterations:
        if not isinstance(it, dict):
            continue
        k = it.get("iteration")
        estep = it.get("estep")
        rows = estep.get("rows") if isinstance(estep, dict) else None
        for label in labels:
            ev = _evals(it).get(label)
            if not isinstance(ev, dict):
                continue
            m = ev.get("metrics")
            rates = per_problem_pass(Path(str(ev.get("run_dir"))))
            if k == 0:
                base_rates[label] = rates
                change = "-"
            else:
                d, ci, n = paired_delta(base_rates.get(label, {}), rates)
                ci_text = f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ""
                change = f"{100 * d:+.1f}{ci_text} ({n} problems)"
            lines.append(
                f"| {k} | {rows if rows is not None else '-'} | {label} | {ev.get('n')} | {metric_cell(m, 'pass@k', 1).text()} "
                f"| {metric_cell(m, 'pass@k', 'max').text()} | {metric_cell(m, 'maj@k', 'max').text()} | {change} |"
            )
    return lines


def _rates(it: JSONValue, label: str) -> dict[str, float] | None:
    ev = _evals(it).get(label)
    return per_problem_pass(Path(str(ev.get("run_dir")))) if isinstance(ev, dict) else None


def _against_fewshot(iterations: Sequence[JSONValue]) -> list[str]:
    """Each checkpoint's zero-shot held-out pass@1 against the few-shot BASE on the same
    problems: the harder baseline (a gain that is only the answer format fails it)."""
    if not iterations:
        return []
    lines: list[str] = []
    for label in _evals(iterations[0]):
        if not label.startswith("fewshot"):
            continue
        zero = "heldout-" + label.split("-", 1)[1]
        base = _rates(iterations[0], label)
        for it in iterations[1:]:
            new = _rates(it, zero)
            if base is None or new is None:
                continue
            d, ci, n = paired_delta(base, new)
            ci_text = f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ""
            k = it.get("iteration") if isinstance(it, dict) else "?"
            lines.append(f"- iteration {k} `{zero}` (zero-shot) vs the base model under `{label}`: "
                         f"{100 * d:+.1f}{ci_text} points of pass@1 ({n} problems, paired)")
    return (["", "Against the few-shot base:", *lines]) if lines else []


def write_loop_report(out: Path, manifest: Mapping[str, JSONValue], *, plots: bool = True) -> Path:
    """``out/report.md`` and, with ``plots`` and matplotlib, ``out/plots/rest.png``."""
    raw = manifest.get("per_iteration")
    iterations: list[JSONValue] = list(raw) if isinstance(raw, list) else []
    lines = [
        "# ReST-EM loop", "",
        f"Train task: `{manifest.get('train_task')}` ({manifest.get('train_split')}); base model: "
        f"`{manifest.get('base_model')}`; M-step from the base each iteration: {manifest.get('from_base')}.",
        "Iteration 0 is the base model. pass@1 is the unbiased estimate from n samples per problem; "
        "CIs are bootstrap over problems; the change column pairs each problem with itself at iteration 0 "
        "(same problems, same sampling seeds).", "",
        *table_rows(iterations), "",
    ]
    for it in iterations:
        estep = it.get("estep") if isinstance(it, dict) else None
        if isinstance(estep, dict):
            lines.append(
                f"- iteration {it.get('iteration') if isinstance(it, dict) else '?'}: E-step kept {estep.get('rows')} rows "
                f"from {estep.get('samples')} samples on {estep.get('problems')} problems "
                f"({estep.get('accepted_problems')} with an accepted sample), verifier "
                f"{estep.get('verifier')} {estep.get('verifier_version')}"
            )
    lines += _against_fewshot(iterations)
    plot = _plot(out, iterations) if plots else None
    if plot is not None:
        lines += ["", f"![pass@1 across iterations](plots/{plot.name})"]
    path = out / "report.md"
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def _plot(out: Path, iterations: Sequence[JSONValue]) -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, Cell]]] = {}
    for it in iterations:
        if not isinstance(it, dict):
            continue
        k = it.get("iteration")
        for label, ev in _evals(it).items():
            if isinstance(ev, dict) and isinstance(k, int):
                series.setdefault(label, []).append((k, metric_cell(ev.get("metrics"), "pass@k", 1)))
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, pts in series.items():
        xs = [k for k, c in pts if c.value is not None]
        ys = [100 * (c.value or 0.0) for _, c in pts if c.value is not None]
        style = "--" if label.startswith("train") else "-"
        line = ax.plot(xs, ys, style, marker="o", label=label)[0]
        lo = [100 * c.ci95[0] for _, c in pts if c.value is not None and c.ci95]
        hi = [100 * c.ci95[1] for _, c in pts if c.value is not None and c.ci95]
        if len(lo) == len(xs) and xs:
            ax.fill_between(xs, lo, hi, alpha=0.15, color=line.get_color(), linewidth=0)
    ax.set_xlabel("iteration (0 = base model)")
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("ReST-EM: train vs held-out")
    ax.legend(fontsize=7)
    (out / "plots").mkdir(exist_ok=True)
    path = out / "plots" / "rest.png"
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

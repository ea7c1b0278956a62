"""The report's PNG plots (matplotlib, Agg backend, imported only here)."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verigen.metrics import KMetric
from verigen.report._stats import RunStats

OUTCOME_COLORS = {"accepted": "#2e7d32", "rejected": "#c62828", "no_answer": "#f9a825", "timeout": "#6a1b9a", "error": "#424242"}


_WARM: list[threading.Thread] = []  # the warm-up started by warm_up_in_background, if any


def warm_up_in_background() -> None:
    """Starts importing matplotlib (and drawing one throw-away figure: fonts, text layout)
    in a daemon thread, so that a run's plots at its end do not pay ~1 s of it: the
    engine calls this when a run starts, while it waits on its model and sandboxes. Every
    draw waits for it first (matplotlib is not thread-safe); failures are left to them."""
    if _WARM:
        return
    thread = threading.Thread(target=_warm_up, name="verigen-plot-warm-up", daemon=True)
    _WARM.append(thread)
    thread.start()


def _warm_up() -> None:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2, 1.5))
        ax = fig.subplots()
        ax.plot([1, 2], [0.0, 1.0], marker="o", label="warm-up")
        ax.set_title("warm-up")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(io.BytesIO(), format="png", dpi=50)
        import matplotlib.pyplot
    except Exception:  # the real draw reports what is wrong
        return


def _plt() -> Any:
    for thread in _WARM:
        thread.join()
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'verigen[report]' (or set output.report_plots=false)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _curve(ax: Any, points: Sequence[KMetric], label: str, color: str | None = None) -> None:
    pts = [p for p in points if p.value is not None]
    if not pts:
        return
    ks = [p.k for p in pts]
    line = ax.plot(ks, [p.value for p in pts], marker="o", ms=3, label=label, color=color)[0]
    banded = [p for p in pts if p.ci95 is not None]
    if len(banded) >= 2:
        ax.fill_between([p.k for p in banded], [p.ci95[0] for p in banded if p.ci95], [p.ci95[1] for p in banded if p.ci95],
                        alpha=0.2, color=line.get_color(), linewidth=0)
    elif banded and banded[0].ci95 is not None and banded[0].value is not None:
        k, v, (lo, hi) = banded[0].k, banded[0].value, banded[0].ci95
        ax.errorbar([k], [v], yerr=[[v - lo], [hi - v]], color=line.get_color(), capsize=3)


def _k_axis(ax: Any, max_k: int) -> None:
    if max_k > 2:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def curves(runs: Sequence[RunStats], path: Path) -> Path | None:
    """pass@k and maj@k over k with the bootstrap 95% bands; one line per run."""
    plt = _plt()
    metrics = [r.view.metrics for r in runs]
    if not any(m and m.pass_at for m in metrics):
        return None
    has_maj = any(m and any(p.value is not None for p in m.maj_at) for m in metrics)
    fig, axes = plt.subplots(1, 2 if has_maj else 1, figsize=(9 if has_maj else 5, 3.6), squeeze=False)
    max_k = max((p.k for m in metrics if m for p in m.pass_at), default=1)
    for i, (r, m) in enumerate(zip(runs, metrics)):
        if m is None:
            continue
        label = _label(r, i) if len(runs) > 1 else "pass@k"
        _curve(axes[0][0], m.pass_at, label, f"C{i}")
        if has_maj:
            _curve(axes[0][1], m.maj_at, label if len(runs) > 1 else "maj@k", f"C{i}")
    axes[0][0].set_title("pass@k (95% bootstrap band)")
    if has_maj:
        axes[0][1].set_title("maj@k (95% bootstrap band)")
    for ax in axes[0]:
        _k_axis(ax, max_k)
        ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def _label(r: RunStats, i: int) -> str:
    return f"{i + 1}: {r.view.info.task}/{r.view.info.split} {r.view.info.model[:40]}"


def outcomes(stats: RunStats, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    names = list(stats.outcomes)
    values = [stats.outcomes[n] for n in names]
    bars = ax.bar(names, values, color=[OUTCOME_COLORS.get(n, "#888") for n in names])
    ax.bar_label(bars, fontsize=8)
    ax.set_title(f"outcomes ({sum(values)} samples)")
    ax.set_ylabel("samples")
    return _save(fig, path)


def pass_rates(stats: RunStats, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(stats.pass_rates, bins=[i / 10 for i in range(11)], color="#1565c0", edgecolor="white")
    ax.set_xlabel("fraction of a problem's samples accepted")
    ax.set_ylabel("problems")
    ax.set_title(f"per-problem pass rate ({len(stats.pass_rates)} problems)")
    return _save(fig, path)


def throughput(stats: RunStats, path: Path) -> Path | None:
    rates = {k: v for k, v in stats.timing.rates().items() if v is not None and v > 0}
    if not rates:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    bars = ax.barh(list(rates), list(rates.values()), color="#00838f")
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in rates.values()], fontsize=8)
    ax.set_xscale("log")
    ax.set_title("throughput")
    ax.invert_yaxis()
    return _save(fig, path)


def time_split(stats: RunStats, path: Path) -> Path | None:
    split = stats.timing.split()
    if not split:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 1.8))
    left = 0.0
    for i, (name, secs) in enumerate(split.items()):
        ax.barh([0], [secs], left=left, color=f"C{i}", label=f"{name}: {secs:.1f} s")
        left += secs
    ax.set_yticks([])
    ax.set_xlabel("seconds (wall time of the last invocation)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=2)
    ax.set_title("time split")
    return _save(fig, path)


def best_of_n(stats: RunStats, path: Path) -> Path | None:
    """best-of-n@k over k, one line per selection strategy (selection.json)."""
    sel = stats.selection
    points = [(c.strategy, [(k, v) for k, v in c.at_k if v is not None]) for c in sel.curves] if sel else []
    points = [(name, pts) for name, pts in points if pts]
    if not points:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for i, (name, pts) in enumerate(points):
        ax.plot([k for k, _ in pts], [v for _, v in pts], marker="o", ms=3, label=name, color=f"C{i}")
    _k_axis(ax, max(k for _, pts in points for k, _ in pts))
    ax.set_ylabel("best-of-n@k")
    ax.set_title("Best-of-N by selection strategy")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)

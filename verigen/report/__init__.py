"""The report of a run: ``report.md``, PNG plots (``plots/``) and a self-contained
``report.html`` with a sample browser. ``write_report`` rebuilds all of them from the run
directory alone, so ``verigen report RUN_DIR`` and the end of ``generate`` give the same.
matplotlib is imported only when plots are drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verigen.report._markdown import headline_ks, render_markdown
from verigen.report._stats import RunStats, run_stats
from verigen.rundir import atomic_write
from verigen.types import JSONValue

__all__ = ["ReportFiles", "RunStats", "headline_ks", "run_stats", "write_report"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiles:
    markdown: Path
    html: Path | None
    plots: tuple[Path, ...]


def _draw_plots(stats: RunStats, compare: Sequence[RunStats], folder: Path) -> dict[str, Path]:
    import verigen.report._plots as p

    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path | None] = {
        "pass@k and maj@k": p.curves([stats], folder / "pass_at_k.png"),
        "outcomes": p.outcomes(stats, folder / "outcomes.png"),
        "per-problem pass rate": p.pass_rates(stats, folder / "pass_rate_hist.png"),
        "throughput": p.throughput(stats, folder / "throughput.png"),
        "time split": p.time_split(stats, folder / "time_split.png"),
        "best-of-n by strategy": p.best_of_n(stats, folder / "best_of_n.png"),
    }
    if compare:
        made["runs compared"] = p.curves([stats, *compare], folder / "compare_pass_at_k.png")
    return {k: v for k, v in made.items() if v is not None}


def _tables(stats: RunStats) -> list[dict[str, JSONValue]]:
    rates = stats.timing.rates()
    out: list[dict[str, JSONValue]] = [{
        "title": "Throughput",
        "head": ["rate", "value"],
        "rows": [[k, "n/a" if v is None else f"{v:.3g}"] for k, v in rates.items()],
    }]
    sel = stats.selection
    if sel is not None and sel.curves:
        ks = sorted({k for c in sel.curves for k, _ in c.at_k})
        rows_at = [(c.strategy, dict(c.at_k)) for c in sel.curves]
        out.append({"title": "Best-of-N by strategy (selection.json)", "head": ["strategy", *(f"best-of-n@{k}" for k in ks)],
                    "rows": [[name, *("n/a" if at.get(k) is None else f"{at[k]:.3f}" for k in ks)] for name, at in rows_at]})
    rows = stats.exports.get("rows")
    if isinstance(rows, dict) and rows:
        out.append({"title": "Exports", "head": ["kind", "rows"], "rows": [[k, v] for k, v in rows.items()]})
    d = stats.exports.get("decontamination")
    if isinstance(d, dict):
        counts = d.get("counts") if isinstance(d.get("counts"), dict) else {}
        body: list[JSONValue] = []
        for b in d.get("benchmarks") or []:  # type: ignore[union-attr]
            if isinstance(b, dict) and isinstance(counts, dict):
                c = counts.get(str(b.get("name"))) or {}
                c = c if isinstance(c, dict) else {}
                body.append([b.get("name"), b.get("status"), b.get("items"), c.get("problems", 0), c.get("samples", 0)])
        out.append({"title": f"Decontamination ({d.get('ngram')}-gram overlap)",
                    "head": ["benchmark", "status", "items", "problems dropped", "samples dropped"], "rows": body})
    return out


def write_report(
    run_dir: Path,
    *,
    compare: Sequence[Path] = (),
    html: bool = True,
    plots: bool = True,
    out_dir: Path | None = None,
) -> ReportFiles:
    """Write report.md (+ plots/ and report.html) for ``run_dir`` into ``out_dir`` (default:
    the run directory); ``compare`` adds other runs side by side and to the curves."""
    from verigen.runview import load_run

    stats = run_stats(load_run(run_dir))
    others = [run_stats(load_run(p)) for p in compare]
    out = out_dir or run_dir
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    note = ""
    if plots:
        try:
            made = _draw_plots(stats, others, out / "plots")
        except ImportError as exc:  # matplotlib missing or broken: numbers still come out
            note = f"no plots: {exc}"
            log.warning("report without plots: %s", exc)
    rel = {name: str(path.relative_to(out)) if path.is_relative_to(out) else str(path) for name, path in made.items()}
    md = out / "report.md"
    atomic_write(md, render_markdown(stats, rel, others, note))
    page: Path | None = None
    if html:
        from verigen.report._html import payload, render_html

        page = out / "report.html"
        atomic_write(page, render_html(payload(stats, made, others, _tables(stats))))
    return ReportFiles(markdown=md, html=page, plots=tuple(made.values()))

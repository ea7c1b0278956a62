"""The short summary table printed at the end of a run."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from verigen.engine import RunSummary
from verigen.report import headline_ks


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def print_summary(console: Console, s: RunSummary) -> None:
    m = s.metrics
    console.print(f"\n[bold]results[/bold] in {escape(str(s.out.resolve()))}")
    files = ["samples.jsonl", "metrics.json", "report.md"] + (["sft.jsonl"] if s.sft_rows is not None else [])
    files += [f for f in ("dpo.jsonl", "rm.jsonl", "hf", "report.html") if (s.out / f).exists()]
    console.print("  " + "  ".join(files), highlight=False)
    table = Table(title=escape(f"{s.task} ({s.split}) - {s.model}"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("problems", str(m.problems))
    table.add_row("samples", f"{m.samples} ({s.new_samples} new, {s.resumed_samples} resumed)")
    for outcome, count in m.outcomes.items():
        table.add_row(outcome, str(count))
    by_k = {pk.k: (pk, mk) for pk, mk in zip(m.pass_at, m.maj_at)}
    for k in headline_ks(len(m.pass_at)):
        pk, mk = by_k[k]
        miss = f" ({pk.missing} missing)" if pk.missing else ""
        table.add_row(f"pass@{k}", _fmt(pk.value) + miss)
        if mk.value is not None:
            table.add_row(f"maj@{k}", _fmt(mk.value))
    if s.sft_rows is not None:
        table.add_row("sft rows", str(s.sft_rows))
    console.print(table)

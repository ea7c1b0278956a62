"""report.md: a short human summary of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from verigen.pipeline import RunSummary


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def headline_ks(max_k: int) -> list[int]:
    """k values worth showing: 1, 2, 4, 8, ... and the largest."""
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= max_k]
    if max_k and max_k not in ks:
        ks.append(max_k)
    return ks


def render_report(s: RunSummary) -> str:
    m = s.metrics
    lines = [
        f"# verigen run: {s.task} ({s.split})",
        "",
        f"- model: `{s.model}`",
        f"- problems: {m.problems}, samples: {m.samples} ({s.new_samples} new, {s.resumed_samples} resumed)",
        f"- problems with an accepted sample: {m.accepted_problems}",
        f"- error rate: {m.error_rate:.3%} (limit {s.max_error_rate:.1%})",
    ]
    if s.sft_rows is not None:
        lines.append(f"- SFT rows written: {s.sft_rows} (sft.jsonl)")
    lines += ["", "| outcome | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in m.outcomes.items()]
    lines += ["", "| k | pass@k | maj@k | problems | missing |", "|---|---|---|---|---|"]
    by_k = {pk.k: (pk, mk) for pk, mk in zip(m.pass_at, m.maj_at)}
    for k in headline_ks(len(m.pass_at)):
        pk, mk = by_k[k]
        lines.append(f"| {k} | {_fmt(pk.value)} | {_fmt(mk.value)} | {pk.problems} | {pk.missing} |")
    return "\n".join(lines) + "\n"

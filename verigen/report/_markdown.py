"""report.md: the run's numbers as tables, with the plots beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from verigen.metrics import KMetric
from verigen.report._stats import RunStats
from verigen.types import JSONValue


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _ci(p: KMetric | None) -> str:
    if p is None or p.value is None:
        return "n/a"
    return _fmt(p.value) + (f" [{p.ci95[0]:.3f}, {p.ci95[1]:.3f}]" if p.ci95 else "")


def _md(text: object) -> str:
    """Text in a table cell: pipes and newlines would break the table, backticks the code span."""
    return str(text).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def headline_ks(max_k: int) -> list[int]:
    """k values worth showing: 1, 2, 4, 8, ... and the largest."""
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if k <= max_k]
    if max_k and max_k not in ks:
        ks.append(max_k)
    return ks


def _curve_table(s: RunStats) -> list[str]:
    m = s.view.metrics
    if m is None or not m.pass_at:
        return ["no metrics.json: run `verigen generate` or `evaluate` to the end first", ""]
    pass_by = {p.k: p for p in m.pass_at}
    maj_by = {p.k: p for p in m.maj_at}
    out = ["| k | pass@k [95% CI] | maj@k [95% CI] | problems | missing |", "|---|---|---|---|---|"]
    for k in headline_ks(max(pass_by)):
        if k in pass_by:
            p = pass_by[k]
            out.append(f"| {k} | {_ci(p)} | {_ci(maj_by.get(k))} | {p.problems} | {p.missing} |")
    return [*out, ""]


def _decontam(exports: Mapping[str, JSONValue]) -> list[str]:
    d = exports.get("decontamination")
    if not isinstance(d, dict):
        return []
    counts = d.get("counts") if isinstance(d.get("counts"), dict) else {}
    out = [f"## Decontamination ({d.get('ngram')}-gram overlap, at least {d.get('min_shared')} shared)", "",
           "| benchmark | status | items | problems dropped | samples dropped |", "|---|---|---|---|---|"]
    for b in d.get("benchmarks") or []:  # type: ignore[union-attr]
        if not isinstance(b, dict):
            continue
        c = counts.get(str(b.get("name")), {}) if isinstance(counts, dict) else {}
        c = c if isinstance(c, dict) else {}
        status = str(b.get("status")) + (f": {b.get('reason')}" if b.get("reason") else "")
        out.append(f"| {_md(b.get('name'))} | {_md(status)} | {b.get('items')} | {c.get('problems', 0)} | {c.get('samples', 0)} |")
    return [*out, "", "Every hit, with the matching benchmark item id: `contamination.jsonl`.", ""]


def _exports(exports: Mapping[str, JSONValue]) -> list[str]:
    rows = exports.get("rows")
    if not isinstance(rows, dict) or not rows:
        return []
    out = ["## Exports", "", "| kind | rows | file |", "|---|---|---|"]
    files = exports.get("files") if isinstance(exports.get("files"), dict) else {}
    for kind, n in rows.items():
        out.append(f"| {kind} | {n} | {_md(files.get(kind, '(in hf)') if isinstance(files, dict) else '')} |")
    out.append("")
    for side in ("accepted", "negatives"):
        sel = exports.get(side)
        if isinstance(sel, dict):
            out.append(f"- {side}: {sel.get('kept')} kept, {sel.get('exact_duplicates')} exact and "
                       f"{sel.get('near_duplicates')} near duplicates removed, {sel.get('capped')} over the per-problem cap")
    settings = exports.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("pairs"), dict):
        pairs = settings["pairs"]
        out.append(f"- pairs: {pairs.get('pairing')}, at most {pairs.get('max_per_problem')} per problem, "  # type: ignore[union-attr]
                   f"negatives {', '.join(str(x) for x in pairs.get('negatives') or [])}")  # type: ignore[union-attr]
    return [*out, ""]


def _timing(s: RunStats) -> list[str]:
    t = s.timing
    out = ["## Throughput and time", "", "| rate | value |", "|---|---|"]
    out += [f"| {k} | {'n/a' if v is None else f'{v:.3g}'} |" for k, v in t.rates().items()]
    out.append("")
    if t.wall_s is not None:
        out.append(f"- wall time of the last invocation: {t.wall_s:.1f} s; sampler time (sum over samples): {t.generation_s:.1f} s")
        out.append("- verification overlaps generation, so its own time shows only as what it adds on top of generation")
    return [*out, ""]


def render_markdown(s: RunStats, plots: Mapping[str, str], compare: Sequence[RunStats] = (), note: str = "") -> str:
    info, m = s.view.info, s.view.metrics
    lines = [f"# verigen run: {_md(info.task)} ({_md(info.split)}, {info.mode})", ""]
    lines += [f"- model: `{_md(info.model)}`", f"- verifier: `{_md(info.verifier)}` {_md(info.verifier_version)}",
              f"- run id: `{info.run_id}`", f"- problems: {len(s.view.problems)}, samples: {len(s.view.records)}"]
    if m is not None:
        lines += [f"- problems with an accepted sample: {m.accepted_problems}", f"- error rate: {m.error_rate:.3%}"]
    if note:
        lines.append(f"- {note}")
    lines += ["", "## Outcomes", "", "| outcome | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s.outcomes.items()]
    lines += ["", "## pass@k and maj@k", "", *_curve_table(s)]
    lines += _selection(s)
    if compare:
        lines += _compare_table([s, *compare])
    lines += _timing(s) + _exports(s.exports) + _decontam(s.exports)
    if plots:
        lines += ["## Plots", ""] + [f"![{name}]({rel})" for name, rel in plots.items()] + [""]
    return "\n".join(lines)


def _selection(s: RunStats) -> list[str]:
    """Best-of-N per strategy (``evaluate --select``: selection.json), beside pass@k."""
    sel = s.selection
    if sel is None or not sel.curves:
        return []
    ks = sorted({k for c in sel.curves for k, _ in c.at_k})
    out = ["## Best-of-N by strategy (selection.json)", "",
           "best-of-n@k: how often the strategy's pick among k samples is accepted (oracle = pass@k, "
           "majority = maj@k).", "",
           "| strategy |" + "".join(f" best-of-n@{k} |" for k in ks), "|---" * (1 + len(ks)) + "|"]
    for c in sel.curves:
        by = dict(c.at_k)
        out.append(f"| {_md(c.strategy)} |" + "".join(f" {_fmt(by.get(k))} |" for k in ks))
    out.append("")
    models = [("likelihood scorer", sel.scorer), ("reward model", sel.rm_model), ("judge", sel.judge_model)]
    out += [f"- {name}: `{_md(model)}`" for name, model in models if model]
    if sel.judge_model:
        out.append(f"- judge vs verifier: accuracy {_fmt(sel.judge_accuracy)}, AUC {_fmt(sel.judge_auc)}, "
                   f"unparseable judgements {sel.judge_unparseable or 'n/a'}")
    return [*out, ""] if any(m for _, m in models) else out


def _compare_table(runs: Sequence[RunStats]) -> list[str]:
    ks = sorted({p.k for r in runs if r.view.metrics for p in r.view.metrics.pass_at})
    heads = headline_ks(max(ks)) if ks else []
    out = ["## Runs side by side", "", "| # | run | task/split | model | samples | accepted | error rate |"
           + "".join(f" pass@{k} |" for k in heads) + "".join(f" maj@{k} |" for k in heads),
           "|---" * (7 + 2 * len(heads)) + "|"]
    for i, r in enumerate(runs):
        m = r.view.metrics
        by = {p.k: p for p in m.pass_at} if m else {}
        mj = {p.k: p for p in m.maj_at} if m else {}
        out.append(
            f"| {i + 1} | `{_md(r.view.info.path.name)}` | {_md(r.view.info.task)}/{_md(r.view.info.split)} "
            f"| `{_md(r.view.info.model)}` "
            f"| {len(r.view.records)} | {r.outcomes.get('accepted', 0)} | {_fmt(m.error_rate if m else None)} |"
            + "".join(f" {_fmt(by[k].value) if k in by else 'n/a'} |" for k in heads)
            + "".join(f" {_fmt(mj[k].value) if k in mj else 'n/a'} |" for k in heads)
        )
    return [*out, ""]

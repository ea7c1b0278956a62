"""report.html: one self-contained file (no network): metrics, plots and a sample browser.

The run's data travels as gzip-compressed JSON in base64 inside a non-executable
``<script type="application/octet-stream">`` block: base64 has no ``<``, so no model text
can close that block or open a tag, and the page decodes it with the browser's own
``DecompressionStream``. The viewer puts every string in the page as a text node. A
Content-Security-Policy admits only the page's own script and style (by hash) and images
from ``data:`` URIs, so even markup that somehow got in could neither run nor load anything.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from verigen.report._stats import RunStats
from verigen.types import JSONValue, Outcome, SamplingParams

OUTCOME_CODES = {o: i for i, o in enumerate(Outcome)}


class _Interner:
    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        idx = self._index.get(value)
        if idx is None:
            idx = self._index[value] = len(self.values)
            self.values.append(value)
        return idx


def _asset(name: str) -> str:
    return resources.files("verigen.report").joinpath("assets", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def payload(
    s: RunStats,
    plots: Mapping[str, Path],
    compare: Sequence[RunStats],
    tables: Sequence[Mapping[str, JSONValue]],
) -> dict[str, JSONValue]:
    """The data the viewer reads: samples as columns, repeated strings interned."""
    view, info = s.view, s.view.info
    pindex = {p.id: i for i, p in enumerate(view.problems)}
    models, params, verifiers, details = _Interner(), _Interner(), _Interner(), _Interner()
    params_text: dict[SamplingParams, str] = {}
    cols: dict[str, list[JSONValue]] = {k: [] for k in ("p", "i", "o", "a", "d", "t", "m", "pa", "v", "ct", "l", "f")}
    for r in view.records:
        smp, ver = r.sample, r.verdict
        cols["p"].append(pindex[smp.problem_id])
        cols["i"].append(smp.index)
        cols["o"].append(OUTCOME_CODES[ver.outcome])
        cols["a"].append(ver.answer)
        cols["d"].append(details(ver.detail))
        cols["t"].append(smp.text)
        cols["m"].append(models(smp.model))
        pa = params_text.get(smp.params)
        if pa is None:
            pa = params_text[smp.params] = json.dumps(smp.params.to_json())
        cols["pa"].append(params(pa))
        cols["v"].append(verifiers(f"{ver.verifier} {ver.verifier_version}".strip()))
        cols["ct"].append(smp.completion_tokens)
        cols["l"].append(smp.latency_s)
        cols["f"].append(smp.finish_reason)
    curves: list[JSONValue] = []
    if view.metrics is not None:
        maj = {p.k: p for p in view.metrics.maj_at}
        for p in view.metrics.pass_at:
            mk = maj.get(p.k)
            curves.append({
                "k": p.k, "pass": p.value, "pass_ci": list(p.ci95) if p.ci95 else None,
                "maj": mk.value if mk else None, "maj_ci": list(mk.ci95) if mk and mk.ci95 else None,
                "problems": p.problems, "missing": p.missing,
            })
    head, rows = _compare(s, compare)
    return {
        "meta": {"task": info.task, "split": info.split, "mode": info.mode, "model": info.model,
                 "verifier": f"{info.verifier} {info.verifier_version}".strip(), "run id": info.run_id,
                 "problems": len(view.problems), "samples": len(view.records),
                 "started": info.started or "", "finished": info.finished or ""},
        "outcomes": dict(s.outcomes),
        "curves": curves,
        "compare_head": head,  # type: ignore[dict-item]
        "compare": rows,  # type: ignore[dict-item]
        "tables": list(tables),  # type: ignore[arg-type]
        "plots": {name: _data_uri(path) for name, path in plots.items()},
        "problems": [[p.id, [[m.role, m.content] for m in p.messages], _pretty(p.reference_json)] for p in view.problems],
        "models": models.values,  # type: ignore[dict-item]
        "params": params.values,  # type: ignore[dict-item]
        "verifiers": verifiers.values,  # type: ignore[dict-item]
        "details": details.values,  # type: ignore[dict-item]
        "samples": cols,  # type: ignore[dict-item]
    }


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _pretty(reference_json: str) -> str:
    try:
        return json.dumps(json.loads(reference_json), indent=1, ensure_ascii=False)
    except json.JSONDecodeError:
        return reference_json


def _compare(s: RunStats, compare: Sequence[RunStats]) -> tuple[list[str], list[list[JSONValue]]]:
    if not compare:
        return [], []
    runs = [s, *compare]
    ks = sorted({p.k for r in runs if r.view.metrics for p in r.view.metrics.pass_at})
    from verigen.report._markdown import headline_ks

    heads = headline_ks(max(ks)) if ks else []
    head = ["#", "run", "task/split", "model", "samples", "accepted", *(f"pass@{k}" for k in heads), *(f"maj@{k}" for k in heads)]
    rows: list[list[JSONValue]] = []
    for i, r in enumerate(runs):
        m = r.view.metrics
        by = {p.k: p.value for p in m.pass_at} if m else {}
        mj = {p.k: p.value for p in m.maj_at} if m else {}
        rows.append([i + 1, r.view.info.path.name, f"{r.view.info.task}/{r.view.info.split}", r.view.info.model,
                     len(r.view.records), r.outcomes.get("accepted", 0),
                     *(_r(by.get(k)) for k in heads), *(_r(mj.get(k)) for k in heads)])
    return head, rows


def _r(v: float | None) -> JSONValue:
    return None if v is None else round(v, 4)


def render_html(data: Mapping[str, JSONValue]) -> str:
    js, css = _asset("viewer.js"), _asset("viewer.css")
    csp = (f"default-src 'none'; script-src {_csp_hash(js)}; style-src {_csp_hash(css)}; "
           "img-src data:; connect-src data:; base-uri 'none'; form-action 'none'")
    # Level 1: level 6 took a third of the whole build at 100,000 samples for ~15% fewer bytes.
    blob = gzip.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), compresslevel=1, mtime=0)
    encoded = base64.b64encode(blob).decode("ascii")
    page = _asset("report.html")
    # Our own assets first; the payload (base64: no '_' or '<') last, so it cannot hold a placeholder.
    for key, value in (("__CSP__", csp), ("__CSS__", css), ("__JS__", js)):
        page = page.replace(key, value, 1)
    return page.replace("__PAYLOAD__", encoded, 1)

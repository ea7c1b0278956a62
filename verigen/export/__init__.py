"""Exports of a run: SFT chat rows, DPO pairs, reward-model pairs and ranked lists, and a
Hugging Face ``DatasetDict`` on disk, each row with its provenance.

``write_exports`` is what ``generate`` calls at the end of a run; ``export_run`` rebuilds
exports from a run directory (``verigen export``). Heavy imports (``datasets``,
``datasketch``) happen only when the export that needs them runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from verigen.config import OutputConfig
from verigen.export._picked import SELECTED_FILE, Pick, pick_samples, write_picks
from verigen.export._rows import dpo_row, pairs, provenance, ranked_row, rm_row, sft_row
from verigen.export._select import Selection, SelectOptions, normalize, select
from verigen.export._write import FILES, ExportInput, ExportSummary, write_exports
from verigen.records import SampleRecord
from verigen.rundir import atomic_write
from verigen.types import ChatMessage, JSONValue, Outcome

__all__ = [
    "FILES",
    "SELECTED_FILE",
    "ExportInput",
    "ExportSummary",
    "Pick",
    "SelectOptions",
    "Selection",
    "dpo_row",
    "export_generated",
    "export_run",
    "normalize",
    "pairs",
    "pick_samples",
    "provenance",
    "ranked_row",
    "record_in_manifest",
    "refuse_heldout",
    "rm_row",
    "select",
    "select_accepted",
    "sft_row",
    "sft_rows",
    "write_exports",
    "write_picks",
]


def select_accepted(records: Iterable[SampleRecord], *, max_per_problem: int | None, dedup: bool) -> list[SampleRecord]:
    """ACCEPTED samples in (problem, index) order, exact-deduplicated per problem, capped."""
    opts = SelectOptions(exact=dedup, near=None, max_per_problem=max_per_problem)
    return select(records, frozenset({Outcome.ACCEPTED}), opts).records()


def sft_rows(
    records: Iterable[SampleRecord],
    prompts: Mapping[str, Sequence[ChatMessage]],
    *,
    max_per_problem: int | None = None,
    dedup: bool = True,
    run_id: str = "",
) -> list[dict[str, JSONValue]]:
    """SFT rows of the accepted samples (no decontamination, no near-dedup: see write_exports)."""
    return [
        sft_row(rec, prompts[rec.sample.problem_id], run_id)
        for rec in select_accepted(records, max_per_problem=max_per_problem, dedup=dedup)
        if rec.sample.problem_id in prompts
    ]


def export_run(
    run_dir: Path,
    formats: Sequence[str],
    *,
    out: Path | None = None,
    output: OutputConfig | None = None,
    data_dir: Path | None = None,
    push_to_hub: str | None = None,
) -> ExportSummary:
    """Rebuild exports from ``run_dir`` (its own [output] settings unless ``output`` is given);
    the summary is recorded under ``exports`` in ``manifest.json``."""
    from verigen.runview import load_run
    from verigen.task import TaskContext

    view = load_run(run_dir)
    cfg = output or view.config.output
    inp = ExportInput(
        run_id=view.info.run_id, task=view.info.task, split=view.info.split, prompts=view.prompts(),
        problem_texts={p.id: p.prompt for p in view.problems}, records=view.records,
        data_dir=TaskContext.from_env(data_dir or view.config.task.data_dir).data_dir,
    )
    summary = write_exports(inp, cfg, formats=formats, out_dir=run_dir, out=out, push_to_hub=push_to_hub)
    record_in_manifest(run_dir, summary)
    return summary


def refuse_heldout(cfg: OutputConfig, task: str, split: str) -> None:
    """Raise ``UsageError`` when a training run would draw from a held-out benchmark split
    (called at plan time, before anything is sampled)."""
    from verigen.decontam import check_heldout

    if cfg.decontam.enabled:
        check_heldout(task, split, cfg.decontam.against, allow=cfg.decontam.allow_heldout)


def export_generated(
    run_dir: Path,
    cfg: OutputConfig,
    *,
    task: str,
    split: str,
    problems: Sequence[tuple[str, str, Sequence[ChatMessage]]],
    records: Sequence[SampleRecord],
    data_dir: Path | None,
) -> ExportSummary:
    """The exports ``generate`` writes at the end of a run (``cfg.formats``).

    ``problems``: (id, prompt text, chat prompt) of every problem of the run.
    """
    from verigen.runview import run_id_of
    from verigen.task import TaskContext

    inp = ExportInput(
        run_id=run_id_of(run_dir), task=task, split=split, prompts={pid: msgs for pid, _, msgs in problems},
        problem_texts={pid: text for pid, text, _ in problems}, records=records,
        data_dir=TaskContext.from_env(data_dir).data_dir,
    )
    return write_exports(inp, cfg, formats=cfg.formats, out_dir=run_dir)


def record_in_manifest(run_dir: Path, summary: ExportSummary) -> None:
    path = run_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError:
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    prev = manifest.get("exports")
    previous: dict[str, JSONValue] = prev if isinstance(prev, dict) else {}
    merged: dict[str, JSONValue] = {**previous, **summary.to_json()}
    for key, new in (("files", summary.files), ("rows", summary.rows)):
        old = previous.get(key)
        merged[key] = {**(old if isinstance(old, dict) else {}), **new}
    manifest["exports"] = merged
    atomic_write(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

"""Decontaminate, select, pair and write the export files of one run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verigen.config import OutputConfig
from verigen.decontam import Contamination, DecontamOptions, check_heldout, scan
from verigen.errors import UsageError
from verigen.export._rows import dpo_row, pairs, ranked_row, rm_row, sft_row
from verigen.export._select import Selection, SelectOptions, select
from verigen.records import SampleRecord
from verigen.rundir import atomic_write, write_jsonl_atomic
from verigen.types import ChatMessage, JSONValue, Outcome

FILES = {"sft": "sft.jsonl", "dpo": "dpo.jsonl", "rm": "rm.jsonl", "rm_ranked": "rm_ranked.jsonl", "hf": "hf"}
NEGATIVE_OUTCOMES = {"rejected": Outcome.REJECTED, "no_answer": Outcome.NO_ANSWER, "timeout": Outcome.TIMEOUT}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInput:
    """What an export reads of a run: its identity, prompts and verdicts."""

    run_id: str
    task: str
    split: str
    prompts: Mapping[str, Sequence[ChatMessage]]  # problem id -> chat prompt
    problem_texts: Mapping[str, str]  # problem id -> prompt text (what decontamination reads)
    records: Sequence[SampleRecord]
    data_dir: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportSummary:
    files: Mapping[str, str]  # kind -> path written
    rows: Mapping[str, int]
    accepted: Selection
    negatives: Selection
    contamination: Contamination | None
    settings: Mapping[str, JSONValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSONValue]:
        def sel(s: Selection) -> dict[str, JSONValue]:
            return {"kept": sum(len(v) for v in s.kept.values()), "exact_duplicates": s.exact_duplicates,
                    "near_duplicates": s.near_duplicates, "capped": s.capped}

        return {
            "files": dict(self.files),
            "rows": dict(self.rows),
            "accepted": sel(self.accepted),
            "negatives": sel(self.negatives),
            "decontamination": self.contamination.to_json() if self.contamination else None,
            "settings": dict(self.settings),
        }


def _settings(cfg: OutputConfig) -> dict[str, JSONValue]:
    return json.loads(cfg.model_dump_json(exclude={"out"}))  # type: ignore[no-any-return]


def decontaminate(inp: ExportInput, cfg: OutputConfig) -> Contamination | None:
    d = cfg.decontam
    if not d.enabled:
        return None
    check_heldout(inp.task, inp.split, d.against, allow=d.allow_heldout)
    opts = DecontamOptions(
        against=tuple(d.against), n=d.ngram, min_shared=d.min_shared, data_dir=inp.data_dir,
        strict="against" in d.model_fields_set,
    )
    samples = [
        (r.sample.problem_id, r.sample.index, r.sample.text)
        for r in inp.records if r.verdict.outcome is not Outcome.ERROR
    ]
    return scan(sorted(inp.problem_texts.items()), samples, opts, source=(inp.task, inp.split))


def write_exports(
    inp: ExportInput,
    cfg: OutputConfig,
    *,
    formats: Sequence[str],
    out_dir: Path,
    out: Path | None = None,
    push_to_hub: str | None = None,
) -> ExportSummary:
    """Write ``formats`` (sft, dpo, rm, hf) for a run into ``out_dir`` (or to ``out`` when one
    format is asked), after decontamination; ``contamination.jsonl`` lists every hit."""
    unknown = [f for f in formats if f not in FILES or f == "rm_ranked"]
    if unknown:
        raise UsageError(f"unknown export format {unknown[0]!r} (formats: sft, dpo, rm, hf)")
    if out is not None and len(formats) != 1:
        raise UsageError("--out names one file: give exactly one --format with it")
    contamination = decontaminate(inp, cfg)
    dropped_p = contamination.dropped_problems if contamination else frozenset()
    dropped_s = contamination.dropped_samples if contamination else frozenset()
    clean = [
        r for r in inp.records
        if r.sample.problem_id in inp.prompts and r.sample.problem_id not in dropped_p and r.key not in dropped_s
    ]
    opts = SelectOptions(exact=cfg.dedup, near=cfg.near_dup, max_per_problem=cfg.max_per_problem)
    accepted = select(clean, frozenset({Outcome.ACCEPTED}), opts)
    negatives = select(clean, frozenset(NEGATIVE_OUTCOMES[n] for n in cfg.pairs.negatives), opts)
    rows = _rows(inp, cfg, accepted, negatives, formats)
    files: dict[str, str] = {}
    for kind, kind_rows in rows.items():
        if kind == "rm_ranked" and "rm" in formats and out is None:
            files[kind] = str(out_dir / FILES[kind])
            write_jsonl_atomic(out_dir / FILES[kind], kind_rows)
        elif kind in formats:
            path = out if out is not None else out_dir / FILES[kind]
            path.parent.mkdir(parents=True, exist_ok=True)
            write_jsonl_atomic(path, kind_rows)
            files[kind] = str(path)
    if "hf" in formats:
        from verigen.export._hf import save_hf

        path = out if out is not None else out_dir / FILES["hf"]
        save_hf(rows, path, push_to_hub=push_to_hub)
        files["hf"] = str(path)
    if contamination is not None:
        atomic_write(out_dir / "contamination.jsonl", "".join(json.dumps(h.to_json()) + "\n" for h in contamination.hits))
    return ExportSummary(
        files=files, rows={k: len(v) for k, v in rows.items()}, accepted=accepted, negatives=negatives,
        contamination=contamination, settings=_settings(cfg),
    )


def _rows(
    inp: ExportInput, cfg: OutputConfig, accepted: Selection, negatives: Selection, formats: Sequence[str]
) -> dict[str, list[dict[str, JSONValue]]]:
    want = set(formats) | ({"sft", "dpo", "rm", "rm_ranked"} if "hf" in formats else set())
    if "rm" in want:
        want.add("rm_ranked")
    out: dict[str, list[dict[str, JSONValue]]] = {k: [] for k in ("sft", "dpo", "rm", "rm_ranked") if k in want}
    for pid in sorted(inp.prompts):
        prompt = inp.prompts[pid]
        good, bad = accepted.kept.get(pid, []), negatives.kept.get(pid, [])
        if "sft" in out:
            out["sft"] += [sft_row(r, prompt, inp.run_id) for r in good]
        if "dpo" in out or "rm" in out:
            chosen_rejected = pairs(pid, good, bad, cfg.pairs)
            if "dpo" in out:
                out["dpo"] += [dpo_row(c, r, prompt, inp.run_id) for c, r in chosen_rejected]
            if "rm" in out:
                out["rm"] += [rm_row(c, r, prompt, inp.run_id) for c, r in chosen_rejected]
        if "rm_ranked" in out and good and bad:
            out["rm_ranked"].append(ranked_row(good, bad, prompt, inp.run_id))
    return out

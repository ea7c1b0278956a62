"""Exports: row shapes, provenance, negatives, pairing, dedup, caps, hf, the CLI."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rundata import S, write_run
from verigen.config import NearDupConfig, PairsConfig, build_config
from verigen.errors import UsageError
from verigen.export import export_run, pairs, select
from verigen.export._select import SelectOptions, near_duplicates
from verigen.records import SampleRecord
from verigen.types import Outcome, Sample, SamplingParams, Verdict

PROVENANCE = {"task", "problem_id", "sample_index", "model", "params", "seed", "verifier", "verifier_version",
              "outcome", "answer", "detail", "run_id"}
SOLUTION = ("First we add the two numbers together carefully, then we check the sum by subtracting one "
            "of them again, which gives back the other one, so the answer is {}.")


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _run(tmp_path: Path, *sets: str) -> Path:
    problems = [("p0", "What is 1 + 1?"), ("p1", "What is 2 + 2?"), ("p2", "What is 3 + 3?")]
    samples = [
        S(problem="p0", index=0, text=SOLUTION.format(2), outcome=Outcome.ACCEPTED, answer="2"),
        S(problem="p0", index=1, text=SOLUTION.format(2).replace("carefully", "slowly"), outcome=Outcome.ACCEPTED,
          answer="2"),
        S(problem="p0", index=2, text="  " + SOLUTION.format(2) + "\n", outcome=Outcome.ACCEPTED, answer="2"),
        S(problem="p0", index=3, text="It is 3.", outcome=Outcome.REJECTED, answer="3", detail="3 != 2"),
        S(problem="p0", index=4, text="hmm", outcome=Outcome.NO_ANSWER),
        S(problem="p0", index=5, text="loop", outcome=Outcome.TIMEOUT),
        S(problem="p0", index=6, text="boom", outcome=Outcome.ERROR, detail="worker died"),
        S(problem="p1", index=0, text="It is 4.", outcome=Outcome.ACCEPTED, answer="4"),
        S(problem="p1", index=1, text="It is four, which I computed in a completely different way.",
          outcome=Outcome.ACCEPTED, answer="4"),
        S(problem="p1", index=2, text="It is 5.", outcome=Outcome.REJECTED, answer="5"),
        S(problem="p2", index=0, text="It is 7.", outcome=Outcome.REJECTED, answer="7"),
        S(problem="p2", index=1, text="error", outcome=Outcome.ERROR),
    ]
    return write_run(tmp_path / "run", problems, samples, sets=["output.decontam.enabled=false", *sets])


def test_sft_rows_are_accepted_only_deduplicated_and_carry_provenance(tmp_path: Path) -> None:
    run = _run(tmp_path)
    summary = export_run(run, ["sft"])
    sft = rows(run / "sft.jsonl")
    # p0: index 2 is an exact (whitespace) copy of 0, index 1 a near copy (one word changed)
    assert [(r["provenance"]["problem_id"], r["provenance"]["sample_index"]) for r in sft] == [("p0", 0), ("p1", 0), ("p1", 1)]
    assert summary.accepted.exact_duplicates == 1 and summary.accepted.near_duplicates == 1
    for r in sft:
        assert set(r["provenance"]) == PROVENANCE
        assert r["messages"][0]["role"] == "user" and r["messages"][-1]["role"] == "assistant"
        assert r["provenance"]["outcome"] == "accepted" and r["provenance"]["seed"] == 3
        assert len(r["provenance"]["run_id"]) == 16 and r["provenance"]["verifier"] == "planted"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["exports"]["rows"]["sft"] == 3 and manifest["exports"]["accepted"]["near_duplicates"] == 1


def test_near_dedup_threshold_is_configurable(tmp_path: Path) -> None:
    run = _run(tmp_path, "output.near_dup.threshold=1.0")
    export_run(run, ["sft"])
    assert len(rows(run / "sft.jsonl")) == 4
    run2 = _run(tmp_path / "b", "output.near_dup.enabled=false", "output.dedup=false")
    export_run(run2, ["sft"])
    assert len(rows(run2 / "sft.jsonl")) == 5


def test_dpo_pairs_never_use_error_and_timeout_only_when_configured(tmp_path: Path) -> None:
    run = _run(tmp_path, "output.pairs.pairing=all", "output.pairs.max_per_problem=100")
    export_run(run, ["dpo"])
    dpo = rows(run / "dpo.jsonl")
    assert {r["rejected_provenance"]["outcome"] for r in dpo} == {"rejected", "no_answer"}
    assert len(dpo) == 1 * 2 + 2 * 1  # p0: 1 chosen x 2 negatives; p1: 2 x 1; p2: no chosen
    for r in dpo:
        assert r["prompt"][-1]["role"] == "user"
        assert [m["role"] for m in r["chosen"]] == ["assistant"] == [m["role"] for m in r["rejected"]]
        assert r["chosen_provenance"]["problem_id"] == r["rejected_provenance"]["problem_id"]
        assert set(r["chosen_provenance"]) == PROVENANCE
    with_timeout = export_run(run, ["dpo"], output=build_config(
        file=run / "config.toml", overrides=['output.pairs.negatives=["rejected","no_answer","timeout"]']).output)
    assert with_timeout.rows["dpo"] == 5
    assert "timeout" in {r["rejected_provenance"]["outcome"] for r in rows(run / "dpo.jsonl")}
    with pytest.raises(UsageError, match="error"):
        build_config(overrides=['output.pairs.negatives=["error"]'])


def test_rm_rows_hold_the_whole_conversation_and_ranked_lists(tmp_path: Path) -> None:
    run = _run(tmp_path)
    export_run(run, ["rm"])
    rm = rows(run / "rm.jsonl")
    assert rm and all(r["chosen"][:-1] == r["rejected"][:-1] and r["chosen"][-1]["role"] == "assistant" for r in rm)
    ranked = rows(run / "rm_ranked.jsonl")
    assert [len(r["completions"]) for r in ranked] == [3, 3]  # p0: 1 accepted + 2 negatives; p1: 2 + 1
    assert ranked[1]["labels"] == [1.0, 1.0, 0.0]
    assert [p["outcome"] for p in ranked[1]["provenance"]] == ["accepted", "accepted", "rejected"]


def _recs(problem: str, outcome: Outcome, count: int) -> list[SampleRecord]:
    params = SamplingParams(n=count)
    return [SampleRecord(task="t", sample=Sample(problem_id=problem, index=i, text=f"{outcome.value} {i}", model="m", params=params),
                         verdict=Verdict(outcome=outcome)) for i in range(count)]


@pytest.mark.parametrize(
    ("pairing", "cap", "chosen", "rejected", "expected"),
    [("all", None, 3, 4, 12), ("all", 5, 3, 4, 5), ("one_per_problem", None, 3, 4, 1), ("balanced", None, 3, 4, 4),
     ("balanced", 2, 3, 4, 2), ("balanced", None, 5, 1, 5), ("all", None, 0, 4, 0)],
)
def test_pairing_strategies(pairing: str, cap: int | None, chosen: int, rejected: int, expected: int) -> None:
    cfg = PairsConfig(pairing=pairing, max_per_problem=cap)  # type: ignore[arg-type]
    got = pairs("p", _recs("p", Outcome.ACCEPTED, chosen), _recs("p", Outcome.REJECTED, rejected), cfg)
    assert len(got) == expected
    assert len({(c.sample.index, r.sample.index) for c, r in got}) == expected  # distinct pairs
    if pairing == "balanced" and expected:
        uses = [sum(1 for c, _ in got if c.sample.index == i) for i in range(chosen)]
        assert max(uses) - min(uses) <= 1 or cap is not None
    again = pairs("p", _recs("p", Outcome.ACCEPTED, chosen), _recs("p", Outcome.REJECTED, rejected), cfg)
    assert [(c.key, r.key) for c, r in got] == [(c.key, r.key) for c, r in again]  # seeded


def test_per_problem_cap_and_error_is_never_selected() -> None:
    recs = _recs("a", Outcome.ACCEPTED, 5) + _recs("b", Outcome.ACCEPTED, 2)
    sel = select(recs, frozenset({Outcome.ACCEPTED}), SelectOptions(max_per_problem=3))
    assert {k: len(v) for k, v in sel.kept.items()} == {"a": 3, "b": 2} and sel.capped == 2
    with pytest.raises(ValueError, match="ERROR"):
        select(recs, frozenset({Outcome.ERROR}), SelectOptions())


def test_near_duplicates_are_confirmed_by_exact_jaccard() -> None:
    base = " ".join(f"word{i}" for i in range(60))
    texts = [base, base.replace("word30", "other"), " ".join(f"tok{i}" for i in range(60)), base + " extra tail words here"]
    assert near_duplicates(texts, NearDupConfig(threshold=0.7)) == [False, True, False, True]
    assert near_duplicates(texts, NearDupConfig(threshold=0.99)) == [False, False, False, False]


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="datasets not installed (verigen[train])")
def test_hf_export_loads_back_with_declared_features(tmp_path: Path) -> None:
    import datasets

    from verigen.export._hf import features

    run = _run(tmp_path)
    summary = export_run(run, ["hf"])
    dd = datasets.load_from_disk(summary.files["hf"])
    assert set(dd) == {"sft", "dpo", "rm", "rm_ranked"}
    for split in dd:
        assert dd[split].features == features(split)
    assert dd["sft"].num_rows == 3 and dd["sft"][0]["provenance"]["params"]["seed"] == 3
    assert dd["dpo"][0]["rejected_provenance"]["outcome"] in ("rejected", "no_answer")


def test_export_command(tmp_path: Path) -> None:
    run = _run(tmp_path)
    target = tmp_path / "pairs.jsonl"
    cmd = [sys.executable, "-m", "verigen.cli", "export", str(run), "--format", "dpo", "--out", str(target),
           "--set", "output.pairs.pairing=one_per_problem"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert len(rows(target)) == 2
    for bad, needle in (
        (["--format", "parquet"], "unknown export format 'parquet'"),
        (["--format", "sft", "--set", "sampling.n=3"], "export only takes output.* settings"),
        (["--format", "sft", "--format", "dpo", "--out", str(target)], "exactly one --format"),
    ):
        res = subprocess.run([*cmd[:5], *bad], capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and needle in res.stderr, res.stderr
    res = subprocess.run([*cmd[:4], str(tmp_path / "nothing"), "--format", "sft"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "not a verigen run directory" in res.stderr


def test_generate_writes_the_configured_formats(tmp_path: Path) -> None:
    from tests.unit._toy import ToyArgs, ToyTask
    from verigen.pipeline import execute, plan
    from verigen.sampling.fake import FakeSampler
    from verigen.task import TaskContext

    script = tmp_path / "script.json"
    script.write_text(json.dumps({"*": ["0", "1", "2", ""]}))
    cfg = build_config(overrides=[f"output.out={tmp_path / 'run'}", "sampling.n=4", "model.backend=fake", f"model.name={script}",
                                  "task.name=toy", 'output.formats=["sft","dpo","rm"]', "output.report_plots=false"])
    execute(plan(cfg, ToyTask(ToyArgs(count=3), TaskContext())), sampler=FakeSampler(str(script)))
    run = tmp_path / "run"
    assert len(rows(run / "sft.jsonl")) == 3
    assert len(rows(run / "dpo.jsonl")) == 3 * 3  # balanced: max(1 chosen, 3 negatives) per problem
    assert (run / "rm.jsonl").exists() and (run / "report.html").exists()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["exports"]["settings"]["pairs"]["pairing"] == "balanced"
    assert manifest["exports"]["decontamination"]["ngram"] == 13

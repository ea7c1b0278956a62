"""Decontamination: planted benchmark copies are dropped, clean procedural problems are not."""

from __future__ import annotations

import gzip
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from verigen.decontam import DecontamOptions, check_heldout, scan
from verigen.decontam._index import words
from verigen.errors import UsageError
from verigen.task import TaskContext, create_task

DEFAULTS = ("gsm8k", "math", "math500", "humaneval", "mbpp", "p3")
NAMES = ["Natalia", "Weng", "Betty", "Julie", "James", "Mark", "Albert", "Ken", "Alexis", "Tina", "Randy", "Janet"]


def _grams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    toks = words(text)
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def _edits(text: str, rng: random.Random) -> dict[str, str]:
    """Light edits: whitespace, one number reworded, one name changed, all three."""
    spaced = re.sub(r" ", lambda m: rng.choice([" ", "  ", "\n", " \t"]), text)
    numbers = list(re.finditer(r"\d+", text))
    renumbered = text
    if numbers:
        m = rng.choice(numbers)
        renumbered = text[: m.start()] + str(int(m.group()) + 7) + text[m.end() :]
    names = [n for n in NAMES if n in text]
    renamed = text.replace(names[0], "Zorblax") if names else text.replace("the", "teh", 1)
    both = re.sub(r"\s+", "  ", renamed)
    if numbers:
        both = re.sub(r"\d+", lambda m: str(int(m.group()) * 3 + 1), both, count=1)
    return {"whitespace": spaced, "number": renumbered, "name": renamed, "all": both}


def _clean_problems() -> list[tuple[str, str]]:
    out = []
    for name in ("arithmetic", "word_problems", "linear_equations", "fractions"):
        task = create_task(name, {"count": "250"}, TaskContext())
        out += [(p.id, p.prompt) for p in task.problems(split="train", seed=0)]
    return out


def test_planted_gsm8k_and_humaneval_copies_are_dropped_and_clean_problems_kept(shared_data: Path, tmp_path: Path) -> None:
    gsm = [json.loads(line) for line in (shared_data / "gsm8k/test.jsonl").read_text().splitlines()]
    with gzip.open(shared_data / "humaneval/HumanEval.jsonl.gz", "rt") as fh:
        he = [json.loads(line) for line in fh]
    rng = random.Random(9)
    planted: dict[str, tuple[str, str, str]] = {}  # problem id -> (original item id, original text, planted text)
    for i in rng.sample(range(len(gsm)), 40):
        planted[f"gen/gsm-{i}-exact"] = (f"gsm8k/test/{i}", gsm[i]["question"], gsm[i]["question"])
        for kind, text in _edits(gsm[i]["question"], rng).items():
            planted[f"gen/gsm-{i}-{kind}"] = (f"gsm8k/test/{i}", gsm[i]["question"], text)
    for j in rng.sample(range(len(he)), 20):
        planted[f"gen/he-{j}-exact"] = (he[j]["task_id"], he[j]["prompt"], he[j]["prompt"])
        for kind, text in _edits(he[j]["prompt"], rng).items():
            planted[f"gen/he-{j}-{kind}"] = (he[j]["task_id"], he[j]["prompt"], text)
    clean = _clean_problems()
    assert len(clean) == 1000
    problems = clean + [(pid, text) for pid, (_, _, text) in planted.items()]
    rng.shuffle(problems)
    opts = DecontamOptions(against=DEFAULTS, data_dir=shared_data, cache_dir=tmp_path / "cache")
    result = scan(problems, [], opts)
    assert all(b.status == "checked" for b in result.benchmarks)
    dropped = result.dropped_problems
    overlapping = {pid for pid, (_, orig, text) in planted.items() if _grams(orig) & _grams(text)}
    exact = {pid for pid in planted if pid.endswith("-exact")}
    assert exact <= overlapping
    assert len(overlapping) >= 0.9 * len(planted)  # light edits keep 13-gram runs: the test is not vacuous
    assert overlapping <= dropped, sorted(overlapping - dropped)[:5]
    assert not dropped & {pid for pid, _ in clean}, sorted(dropped & {pid for pid, _ in clean})[:5]
    by_problem = {h.problem_id: h for h in result.hits}
    for pid in overlapping:
        assert by_problem[pid].item_id == planted[pid][0]  # the matching benchmark item is kept
    counts = result.counts()
    assert counts["gsm8k"]["problems"] == len({p for p in dropped if p.startswith("gen/gsm")})
    assert counts["humaneval"]["problems"] == len({p for p in dropped if p.startswith("gen/he")})


def _bench(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


LONG = "a train leaves the station at nine in the morning and travels west at sixty miles per hour until noon"


def test_completions_are_checked_and_n_and_threshold_are_configurable(tmp_path: Path) -> None:
    bench = _bench(tmp_path, [{"id": "b1", "question": LONG}])
    samples = [("p", 0, "Solution: " + LONG), ("p", 1, "a train leaves the station at nine"), ("p", 2, "unrelated text " * 5)]
    opts = DecontamOptions(against=(str(bench),), cache_dir=tmp_path / "c")
    res = scan([("p", "What is the distance?")], samples, opts)
    assert res.dropped_samples == {("p", 0)} and not res.dropped_problems
    assert res.hits[0].item_id == "b1" and res.hits[0].field == "completion"
    # 7 words shared: caught with n=7, not with n=13
    short = [("p", 1, "so: a train leaves the station at nine, then")]
    assert scan([], short, DecontamOptions(against=(str(bench),), n=7, cache_dir=tmp_path / "c")).hits
    assert not scan([], short, opts).hits
    # min_shared: the full copy shares 8 13-grams with the item; 9 required -> not contaminated
    assert scan([], samples[:1], DecontamOptions(against=(str(bench),), min_shared=8, cache_dir=tmp_path / "c")).hits
    assert not scan([], samples[:1], DecontamOptions(against=(str(bench),), min_shared=9, cache_dir=tmp_path / "c")).hits


def test_index_is_cached_per_file_hash(tmp_path: Path) -> None:
    bench = _bench(tmp_path, [{"id": "b1", "question": LONG}])
    cache = tmp_path / "cache"
    opts = DecontamOptions(against=(str(bench),), cache_dir=cache)
    scan([("p", LONG)], [], opts)
    files = sorted(cache.iterdir())
    assert len(files) == 1
    scan([("p", LONG)], [], opts)
    assert sorted(cache.iterdir()) == files  # reused
    bench.write_text(json.dumps({"id": "b2", "question": "something else entirely " * 5}) + "\n")
    res = scan([("p", LONG)], [], opts)
    assert len(list(cache.iterdir())) == 2 and not res.hits  # new hash, new index: the old one is not used


def test_missing_benchmarks_skip_by_default_and_fail_when_named(tmp_path: Path) -> None:
    res = scan([("p", LONG)], [], DecontamOptions(against=("gsm8k",), data_dir=tmp_path))
    assert res.benchmarks[0].status == "skipped"
    with pytest.raises(UsageError, match="gsm8k"):
        scan([("p", LONG)], [], DecontamOptions(against=("gsm8k",), data_dir=tmp_path, strict=True))
    with pytest.raises(UsageError, match="unknown benchmark 'gsm9k'"):
        scan([], [], DecontamOptions(against=("gsm9k",)))


def test_training_on_a_heldout_split_is_refused_unless_overridden() -> None:
    with pytest.raises(UsageError, match="held-out benchmark 'gsm8k'"):
        check_heldout("gsm8k", "test", DEFAULTS, allow=False)
    with pytest.raises(UsageError, match="math500"):
        check_heldout("math", "test", ["math500"], allow=False)
    check_heldout("gsm8k", "test", DEFAULTS, allow=True)
    check_heldout("gsm8k", "train", DEFAULTS, allow=False)
    check_heldout("gsm8k", "test", ["humaneval"], allow=False)


def test_math_train_is_not_checked_against_the_math_test_set_it_is_drawn_from(shared_data: Path) -> None:
    res = scan([], [], DecontamOptions(against=("math", "math500"), data_dir=shared_data), source=("math", "train"))
    assert [b.status for b in res.benchmarks] == ["not applicable", "checked"]


def test_generate_on_gsm8k_test_is_refused_before_anything_is_written(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "verigen.cli", "generate", "--task", "gsm8k", "--split", "test", "--limit", "2",
           "--backend", "fake", "--model", "echo", "--data-dir", str(shared_data), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "held-out benchmark 'gsm8k'" in res.stderr
    assert not out.exists()


def test_decontam_command_on_a_jsonl_of_chat_rows(shared_data: Path, tmp_path: Path) -> None:
    q = json.loads((shared_data / "gsm8k/test.jsonl").read_text().splitlines()[5])["question"]
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "42"}]},
            {"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]},
            {"question": "Solve for x: 3x + 4 = 10"}]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cmd = [sys.executable, "-m", "verigen.cli", "decontam", str(src), "--against", "gsm8k,math500", "--data-dir", str(shared_data)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    kept = [json.loads(x) for x in (tmp_path / "rows.clean.jsonl").read_text().splitlines()]
    assert kept == rows[1:]
    hits = [json.loads(x) for x in (tmp_path / "rows.clean.contamination.jsonl").read_text().splitlines()]
    assert [h["item_id"] for h in hits] == ["gsm8k/test/5"] and hits[0]["benchmark"] == "gsm8k"
    bad = subprocess.run([*cmd[:5], "--against", "nosuch"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown benchmark 'nosuch'" in bad.stderr

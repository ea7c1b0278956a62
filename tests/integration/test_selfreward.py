"""``verigen selfreward`` end to end on a tiny configuration: the fake sampler scripted as
prompt writer, responder and judge, a real DPO step (TRL's DPOTrainer) on the tiny random
Llama; then the lineage manifest, the resume markers, a rerun that redoes nothing and one
that redoes only the stages whose markers are gone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.integration._tiny_model import save_tiny_llama
from verigen.errors import UsageError

SEEDS = ["What is 2 + 3?", "Name three colours of the rainbow.", "Write a haiku about rain."]


def _script(path: Path) -> Path:
    script = {
        "selfreward/i1/write/0": ["Task 4: What is 12 + 7? Show your work.\nTask 5: another one"],
        "selfreward/i1/write/1": ["Compute 3 * 4 - 5 and explain."],
        "selfreward/i1/write/2": ["Task 4:"],  # empty once the label is cut
        "selfreward/i1/write/3": ["Task 4: what is 2 +  3?"],  # a seed again
        "selfreward/i1/write/4": ["**Task 4:** Name a prime number bigger than 10."],
        "selfreward/i1/0": ["12 + 7 = 19. The answer is 19.", "I do not know."],
        "selfreward/i1/1": ["3 * 4 - 5 = 7", "7"],
        "selfreward/i1/4": ["13", "11"],
        "judge/selfreward/i1/0": ["Relevant and correct.\nScore: 5", "Unhelpful.\nScore: 1"],
        "judge/selfreward/i1/1": ["Score: 4", "I cannot grade this."],  # one score: no pair
        "judge/selfreward/i1/4": ["Score: 3", "Score: 3"],  # a tie: no pair
    }
    path.write_text(json.dumps(script))
    return path


def _args(out: Path, seeds: Path, script: Path, tiny: Path, *extra: str) -> list[str]:
    return ["selfreward", "--backend", "fake", "--model", str(script), "--prompts", str(seeds), "--iterations", "1",
            "--new-prompts", "5", "-n", "2", "--out", str(out), "--set", f"selfreward.base_model={tiny}",
            "--set", "selfreward.fewshot=2", "--set", "train.max_steps=2", "--set", "train.batch_size=1",
            "--set", "train.device=cpu", "--set", "train.max_length=128", "--set", "train.learning_rate=1e-3", *extra]


def _run(out: Path, seeds: Path, script: Path, tiny: Path, *extra: str) -> Result:
    """The command line in this process (torch and TRL start once, with the tiny model)."""
    from verigen.cli import app

    return CliRunner().invoke(app, _args(out, seeds, script, tiny, *extra))


def test_selfreward_end_to_end_and_resume(tmp_path: Path) -> None:
    tiny = save_tiny_llama(tmp_path / "tiny")
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"prompt": s}) + "\n" for s in SEEDS))
    script, out = _script(tmp_path / "script.json"), tmp_path / "loop"
    res = _run(out, seeds, script, tiny)
    assert res.exit_code == 0, res.output[-3000:]
    assert "pairs 1" in res.output

    it = json.loads((out / "iter_1" / "manifest.json").read_text())
    assert it["policy_sampled"] == str(tiny) and it["trained_from"] == str(tiny)
    assert it["prompts"]["kept"] == 3 and it["prompts"]["dropped"] == {"duplicate": 1, "empty": 1}
    prompts = [json.loads(line)["prompt"] for line in (out / "iter_1" / "prompts.jsonl").read_text().splitlines()]
    assert prompts == ["What is 12 + 7? Show your work.", "Compute 3 * 4 - 5 and explain.",
                       "Name a prime number bigger than 10."]
    assert it["judge"]["responses"] == 6 and it["judge"]["unparseable_judgements"] == 1
    assert it["pairs"] == {**it["pairs"], "pairs": 1, "dropped_ties": 1, "dropped_fewer_than_two_scores": 1}
    pair = json.loads((out / "iter_1" / "dpo.jsonl").read_text())
    assert pair["chosen"][0]["content"].endswith("The answer is 19.") and pair["rejected"][0]["content"] == "I do not know."
    assert pair["provenance"]["chosen_score"] == 5.0 and pair["provenance"]["rejected_score"] == 1.0

    train = json.loads((out / "iter_1" / "train" / "train.json").read_text())  # the resume marker, written last
    assert train["method"] == "dpo" and train["steps"] == 2 and train["device"] == "cpu" and train["rows"] == 1
    assert train["base_model"] == str(tiny) and it["train"]["checkpoint_sha256"] == train["checkpoint_sha256"]
    assert it["policy_after"] == train["checkpoint"] and (Path(train["checkpoint"]) / "config.json").is_file()
    loop = json.loads((out / "loop.json").read_text())
    assert loop["finished"] is True and loop["iterations"][0]["checkpoint"] == train["checkpoint"]

    markers = [out / "iter_1" / f for f in ("prompts.json", "judge.json", "pairs.json", "train/train.json")]
    before = [m.stat().st_mtime_ns for m in markers]
    again = _run(out, seeds, script, tiny)  # finished: nothing is sampled, judged or trained again
    assert again.exit_code == 0, again.output[-3000:]
    assert [m.stat().st_mtime_ns for m in markers] == before
    # killed after judging, before the pairs: judging and pairing are redone, the prompts are
    # not, and the same pairs find their finished training (same data hash), not retrained
    for m in markers[1:3]:
        m.unlink()
    redo = _run(out, seeds, script, tiny)
    assert redo.exit_code == 0, redo.output[-3000:]
    after = [m.stat().st_mtime_ns for m in markers]
    assert after[0] == before[0] and after[3] == before[3] and markers[1].exists() and markers[2].exists()
    assert json.loads(markers[2].read_text())["sha256"] == it["pairs"]["sha256"]
    other = _run(out, seeds, script, tiny, "--set", "selfreward.n=3")
    assert isinstance(other.exception, UsageError) and "another config" in str(other.exception)

"""Few-shot prompting, templates and system prompts: the same for every task, reproducible,
never drawn from the problems being sampled, recorded in the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit._toy import ToyArgs, ToyTask
from verigen.config import build_config
from verigen.errors import UsageError
from verigen.pipeline import execute, plan
from verigen.prompting import FewShotExample, PromptSpec, load_template
from verigen.sampling.fake import FakeSampler
from verigen.task import Task, TaskContext, create_task
from verigen.types import Problem


def arithmetic(count: int = 50) -> Task[object]:
    return create_task("arithmetic", {"difficulty": "1", "count": str(count)}, TaskContext())


def sampled(task: Task[object], split: str, n: int) -> list[Problem[object]]:
    return list(task.problems(split=split, seed=0))[:n]


def test_fewshot_turns_come_before_the_question_and_are_reproducible() -> None:
    task = arithmetic()
    problems = sampled(task, "test", 5)
    task.configure_prompting(PromptSpec(fewshot=2), sampled=problems)
    msgs = task.messages(problems[0])
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[-1].content == problems[0].prompt
    assert msgs[2].content.endswith("}.") and "\\boxed{" in msgs[2].content  # a worked reference solution
    again = arithmetic()
    again.configure_prompting(PromptSpec(fewshot=2), sampled=problems)
    assert again.messages(problems[0]) == msgs
    other_seed = arithmetic()
    other_seed.configure_prompting(PromptSpec(fewshot=2, seed=5), sampled=problems)
    assert other_seed.messages(problems[0]) != msgs
    # examples differ between problems (drawn per problem id), all from the train split
    sources = {s for p in problems for s in task.prompt_record(p)["fewshot"]}  # type: ignore[union-attr]
    assert len(sources) > 2 and all(s.startswith("arithmetic/train/") for s in sources)


def test_examples_are_never_the_problems_being_sampled() -> None:
    task = arithmetic(count=30)
    problems = sampled(task, "train", 26)
    task.configure_prompting(PromptSpec(fewshot=3), sampled=problems)
    sampled_ids = {p.id for p in problems}
    prompts = {p.prompt for p in problems}
    for p in problems:
        examples = task.fewshot_for(p)
        assert len(examples) == 3
        assert not {e.source for e in examples} & sampled_ids
        assert not {e.prompt for e in examples} & prompts
    with pytest.raises(UsageError, match=r"needs 5 problems of split 'train' that the run does not sample; there are 4"):
        task.configure_prompting(PromptSpec(fewshot=5), sampled=problems)


def test_a_task_without_a_train_split_needs_curated_examples(shared_data: Path) -> None:
    task = create_task("humaneval", {}, TaskContext(data_dir=shared_data))
    problems = sampled(task, "test", 2)
    with pytest.raises(UsageError, match=r"task 'humaneval': few-shot examples come from its 'train' split"):
        task.configure_prompting(PromptSpec(fewshot=1), sampled=problems)


class CuratedToy(ToyTask):
    def fewshot_examples(self) -> tuple[FewShotExample, ...]:
        return (FewShotExample(prompt="say 7", answer="7", source="curated/seven"),
                FewShotExample(prompt="say 8", answer="8"), FewShotExample(prompt="say 0", answer="0"))


def test_curated_examples_are_used_and_skip_the_problem_itself() -> None:
    task = CuratedToy(ToyArgs(count=2), TaskContext())
    problems = sampled(task, "test", 2)  # prompts "say 0" and "say 1"
    task.configure_prompting(PromptSpec(fewshot=2), sampled=problems)
    for p in problems:
        examples = task.fewshot_for(p)
        assert {e.prompt for e in examples} == {"say 7", "say 8"}  # "say 0" is being sampled
        assert {e.source for e in examples} == {"curated/seven", "curated/1"}


@pytest.mark.parametrize(("name", "split", "args"), [
    ("arithmetic", "test", {}), ("fractions", "test", {}), ("linear_equations", "test", {}),
    ("word_problems", "test", {}), ("gsm8k", "test", {}), ("math", "test", {}),
    ("mbpp", "test", {}), ("p3", "test", {}), ("mbpp", "train", {}),
])
def test_every_task_with_a_train_split_gets_worked_examples(shared_data: Path, name: str, split: str, args: dict[str, str]) -> None:
    task = create_task(name, args, TaskContext(data_dir=shared_data))
    problems = sampled(task, split, 3)
    task.configure_prompting(PromptSpec(fewshot=2), sampled=problems)
    msgs = task.messages(problems[0])
    assert [m.role for m in msgs if m.role != "system"] == ["user", "assistant"] * 2 + ["user"]
    answers = [m.content for m in msgs if m.role == "assistant"]
    if task.family == "math":
        assert all("\\boxed{" in a for a in answers)
    else:
        assert all(a.startswith("```python\n") for a in answers)


def test_template_and_system_prompt(tmp_path: Path) -> None:
    template = tmp_path / "t.txt"
    template.write_text("Question: {problem}\nKeep braces {like} this \\boxed{}.")
    spec = PromptSpec(fewshot=1, template=load_template(template), system_prompt="Be brief.")
    task = arithmetic()
    problems = sampled(task, "test", 2)
    task.configure_prompting(spec, sampled=problems)
    msgs = task.messages(problems[0])
    assert msgs[0].content == "Be brief."
    assert msgs[1].content.startswith("Question: Calculate: ") and msgs[1].content.endswith("{like} this \\boxed{}.")
    assert msgs[-1].content == f"Question: {problems[0].prompt}\nKeep braces {{like}} this \\boxed{{}}."
    task.configure_prompting(PromptSpec(system_prompt=""), sampled=problems)
    assert [m.role for m in task.messages(problems[0])] == ["user"]
    (tmp_path / "bad.txt").write_text("no placeholder")
    with pytest.raises(UsageError, match=r"has no \{problem\} placeholder"):
        load_template(tmp_path / "bad.txt")
    with pytest.raises(UsageError, match=r"task\.template .*missing\.txt"):
        load_template(tmp_path / "missing.txt")


def test_prompting_is_recorded_and_a_changed_template_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "t.txt"
    template.write_text("Q: {problem}")
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"*": ["0"]}))
    sets = [f"output.out={tmp_path / 'run'}", "sampling.n=1", "model.backend=fake", f"model.name={script}",
            "task.name=toy", "task.fewshot=1", f"task.template={template}", "task.system_prompt=Answer."]
    cfg = build_config(overrides=sets)
    execute(plan(cfg, CuratedToy(ToyArgs(count=2), TaskContext())), sampler=FakeSampler(str(script)))
    run = tmp_path / "run"
    config = (run / "config.toml").read_text()
    assert "fewshot = 1" in config and 'system_prompt = "Answer."' in config and "template_sha256 = " in config
    rows = [json.loads(line) for line in (run / "problems.jsonl").read_text().splitlines()]
    assert rows[0]["prompting"]["fewshot"][0].startswith("curated/")
    assert rows[0]["messages"][0] == {"role": "system", "content": "Answer."}
    assert rows[0]["messages"][-1]["content"] == "Q: say 0"
    sft = [json.loads(line) for line in (run / "sft.jsonl").read_text().splitlines()]
    assert sft[0]["messages"][1]["content"].startswith("Q: say ")  # the exported prompt is the sampled one
    # the same config resumes; the same config with an edited template file does not
    execute(plan(build_config(overrides=sets), CuratedToy(ToyArgs(count=2), TaskContext())), sampler=None)
    template.write_text("Question: {problem}")
    resumed = [*sets, f"task.template_sha256={config.split('template_sha256 = ')[1].split(chr(10))[0].strip(chr(34))}"]
    with pytest.raises(UsageError, match=r"task.template .* changed"):
        plan(build_config(overrides=resumed), CuratedToy(ToyArgs(count=2), TaskContext()))
    with pytest.raises(UsageError, match="another config"):
        plan(build_config(overrides=sets), CuratedToy(ToyArgs(count=2), TaskContext()))


def test_fewshot_through_the_cli_is_bad_input_when_impossible(tmp_path: Path, shared_data: Path) -> None:
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "verigen.cli", "evaluate", "--task", "math500", "--data-dir", str(shared_data),
         "--set", "task.fewshot=2", "--backend", "fake", "--model", "echo", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2 and "few-shot examples come from its 'train' split" in res.stderr, res.stderr
    assert not (tmp_path / "run").exists()

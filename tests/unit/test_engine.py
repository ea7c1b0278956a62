"""The engine's contract: plan writes nothing, execute streams into the verifier pool,
takes open sampler/pool from its caller and closes only what it opened, the error-rate gate,
needs declared by tasks, per-sample seeds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.unit._toy import ToyArgs, ToyTask
from verigen.config import build_config
from verigen.engine import ErrorRateExceeded, execute, open_verifier_pool, plan
from verigen.errors import UsageError
from verigen.sampling.base import SampleOutput, SampleRequest
from verigen.sampling.fake import FakeSampler
from verigen.sampling.seeds import problem_seed, sample_seed
from verigen.task import TaskContext
from verigen.types import Completion, JSONValue, SamplingParams


def config(tmp_path: Path, *sets: str, script: dict[str, list[str]] | None = None):  # type: ignore[no-untyped-def]
    sf = tmp_path / "script.json"
    sf.write_text(json.dumps(script or {"*": ["0", "1", "2"]}))
    return build_config(overrides=[f"output.out={tmp_path / 'run'}", "sampling.n=3", "model.backend=fake",
                                   f"model.name={sf}", "task.name=toy", *sets])


def toy(count: int = 3) -> ToyTask:
    return ToyTask(ToyArgs(count=count), TaskContext())


class Counting(FakeSampler):
    """A fake sampler that counts closes and remembers what it was asked."""

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.closed = 0
        self.asked: list[SampleRequest] = []

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        self.asked += list(requests)
        return super().stream(requests, params)

    def close(self) -> None:
        self.closed += 1


def test_plan_rejects_a_bad_model_or_backend_option_and_writes_nothing(tmp_path: Path) -> None:
    bad = build_config(overrides=[f"output.out={tmp_path / 'run'}", "model.backend=fake",
                                  f"model.name={tmp_path / 'typo.json'}", "task.name=toy"])
    with pytest.raises(UsageError, match="is not a script file"):
        plan(bad, toy())
    with pytest.raises(UsageError, match=r"unknown config key 'model.tensor_parallel_size' for backend 'fake' \(allowed: delay_s\)"):
        plan(config(tmp_path, "model.tensor_parallel_size=2"), toy())
    with pytest.raises(UsageError, match=r"model.delay_s='slow'"):
        plan(config(tmp_path, "model.delay_s=slow"), toy())
    assert not (tmp_path / "run").exists()
    # the corrected command runs (nothing was poisoned) and records the option defaults
    execute(plan(config(tmp_path), toy()))
    assert "delay_s = 0.0" in (tmp_path / "run" / "config.toml").read_text()


def test_transformers_options_are_validated_before_loading(tmp_path: Path) -> None:
    cfg = build_config(overrides=[f"output.out={tmp_path / 'run'}", "model.device=tpu", "task.name=toy"])
    with pytest.raises(UsageError, match=r"model.device='tpu' for backend 'transformers'"):
        plan(cfg, toy())
    cfg = build_config(overrides=[f"output.out={tmp_path / 'run'}", f"model.name={tmp_path / 'nope'}", "task.name=toy"])
    with pytest.raises(UsageError, match="not found"):
        plan(cfg, toy())
    assert not (tmp_path / "run").exists()


def test_caller_owned_sampler_and_pool_stay_open_across_rounds(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    sampler = Counting(str(tmp_path / "script.json"))
    p = plan(cfg, toy())
    verifier, pool = open_verifier_pool(p)
    try:
        first = execute(p, sampler=sampler, pool=pool)
        second_cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"out": tmp_path / "round2"})})
        second = execute(plan(second_cfg, toy()), sampler=sampler, pool=pool)
    finally:
        pool.close()
        verifier.close()
    assert sampler.closed == 0
    assert first.new_samples == second.new_samples == 9
    # every pending request went to the sampler in one call per round
    assert len(sampler.asked) == 6 and all(r.indices == (0, 1, 2) for r in sampler.asked)


def test_a_resumed_run_asks_only_for_the_missing_indices(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    execute(plan(cfg, toy()))
    path = tmp_path / "run" / "samples.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    keep = [r for r in rows if not (r["problem_id"] == "toy/train/1" and r["sample_index"] in (0, 2))]
    path.write_text("".join(json.dumps(r) + "\n" for r in keep))
    sampler = Counting(str(tmp_path / "script.json"))
    summary = execute(plan(cfg, toy()), sampler=sampler)
    assert [(r.problem_id, r.indices) for r in sampler.asked] == [("toy/train/1", (0, 2))]
    assert summary.new_samples == 2 and summary.resumed_samples == 7


class Gated(FakeSampler):
    """Yields one sample, then waits until the engine has written its verdict."""

    def __init__(self, model: str, samples: Path) -> None:
        super().__init__(model)
        self.samples = samples
        self.saw_verdict_while_sampling = False

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        for k, out in enumerate(super().stream(requests, params)):
            yield out
            if k == 0:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not self._written():
                    time.sleep(0.02)
                self.saw_verdict_while_sampling = self._written()

    def _written(self) -> bool:
        return self.samples.exists() and bool(self.samples.read_text())


def test_verification_starts_on_the_first_completion(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    sampler = Gated(str(tmp_path / "script.json"), tmp_path / "run" / "samples.jsonl")
    thread_count = threading.active_count()
    execute(plan(cfg, toy()), sampler=sampler)
    assert sampler.saw_verdict_while_sampling
    assert threading.active_count() <= thread_count + 1


class Broken(FakeSampler):
    def __init__(self, model: str, mode: str) -> None:
        super().__init__(model)
        self.mode = mode

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        outs = list(super().stream(requests, params))
        if self.mode == "missing":
            outs = outs[:-1]
        else:
            outs.append(SampleOutput(problem_id=outs[0].problem_id, index=outs[0].index, completion=Completion(text="x")))
        return iter(outs)


@pytest.mark.parametrize(("mode", "needle"), [("missing", "ended without 1 requested"), ("twice", "not asked for")])
def test_a_sampler_that_loses_or_repeats_samples_is_a_fault(tmp_path: Path, mode: str, needle: str) -> None:
    with pytest.raises(RuntimeError, match=needle):
        execute(plan(config(tmp_path), toy()), sampler=Broken(str(tmp_path / "script.json"), mode))


def test_the_error_rate_gate_raises_after_writing_everything(tmp_path: Path) -> None:
    cfg = config(tmp_path, "verify.max_error_rate=0.1", script={"*": ["crash", "0", "0"]})
    with pytest.raises(ErrorRateExceeded, match=r"error rate 33\.3% is above the limit 10\.0%") as exc:
        execute(plan(cfg, toy()))
    assert exc.value.summary.metrics.outcomes["error"] == 3
    run = tmp_path / "run"
    assert {"samples.jsonl", "metrics.json", "manifest.json", "report.md", "sft.jsonl"} <= {p.name for p in run.iterdir()}


class NoVote(ToyTask):
    majority_vote = False


class Sandboxed(ToyTask):
    needs_sandbox = True


def test_the_engine_branches_on_declared_needs_not_families(tmp_path: Path) -> None:
    script = {"*": ["0", "0", "1"]}
    voted = execute(plan(config(tmp_path, script=script), toy()))
    assert voted.metrics.maj_at[0].value is not None
    cfg = config(tmp_path, "output.out=" + str(tmp_path / "novote"), script=script)
    unvoted = execute(plan(cfg, NoVote(ToyArgs(count=3), TaskContext())))
    assert all(m.value is None for m in unvoted.metrics.maj_at)
    cfg = config(tmp_path, "sandbox.backend=no-such-box", "output.out=" + str(tmp_path / "box"))
    with pytest.raises(UsageError, match="unknown sandbox 'no-such-box'"):
        plan(cfg, Sandboxed(ToyArgs(count=3), TaskContext()))
    assert not (tmp_path / "box").exists()


def test_manifest_records_the_sampler_provenance(tmp_path: Path) -> None:
    execute(plan(config(tmp_path), toy()))
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    sampler: JSONValue = manifest["sampler"]
    assert sampler == {"backend": "fake", "script": "file", "delay_s": 0.0}
    execute(plan(config(tmp_path), toy()))  # nothing to do, no sampler loaded: provenance kept
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["sampler"] == sampler


def test_sample_seeds_are_pure_distinct_and_consecutive_per_problem() -> None:
    seeds = [sample_seed(7, "gsm8k/test/3", i) for i in range(128)]
    assert seeds == [problem_seed(7, "gsm8k/test/3") + i for i in range(128)]
    assert len(set(seeds)) == 128 and max(seeds) < 2**31
    assert sample_seed(7, "gsm8k/test/3", 5) == sample_seed(7, "gsm8k/test/3", 5)
    assert sample_seed(8, "gsm8k/test/3", 5) != sample_seed(7, "gsm8k/test/3", 5)
    assert sample_seed(7, "gsm8k/test/4", 5) != sample_seed(7, "gsm8k/test/3", 5)
    with pytest.raises(ValueError):
        sample_seed(0, "p", -1)


class ClosedAfterUse(FakeSampler):
    """Like the transformers sampler: nothing can be asked of it once closed."""

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.open = True

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        if not self.open:
            raise UsageError("closed")
        return super().provenance(params)

    def close(self) -> None:
        self.open = False


def test_an_engine_owned_sampler_is_asked_for_provenance_before_it_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verigen.engine._execute as engine_execute

    made: list[ClosedAfterUse] = []
    monkeypatch.setattr(engine_execute, "open_sampler",
                        lambda p: made.append(ClosedAfterUse(str(tmp_path / "script.json"))) or made[-1])
    execute(plan(config(tmp_path), toy()))
    assert made and not made[0].open  # opened by the engine, so closed by it
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["sampler"]["backend"] == "fake"

"""ReST-EM (Singh et al. 2023, arXiv 2312.06585): sample, verify, fine-tune, repeat.

Iteration 0 evaluates the base model. Iteration k >= 1:

- E-step: ``sampling.n`` samples per training problem from the current policy (the base
  model for k = 1, else the checkpoint of iteration k-1), verified; the accepted ones, at
  most ``rest.max_per_problem`` per problem, deduplicated and decontaminated against the
  held-out tasks' problems, become ``iter_k/estep/sft.jsonl`` (an ordinary ``generate`` run).
- M-step: the BASE model (``rest.from_base``; else the last iterate) fine-tuned on that set
  (``verigen.train``) into ``iter_k/mstep/checkpoint``.
- Evaluation: pass@1, pass@k and maj@k with CIs of the new checkpoint on every held-out task
  and on the training problems (``evaluate`` runs, one seed for every iteration so the
  iterations are paired).

Every stage writes a marker when it is finished (``estep.json``, ``mstep/train.json``,
``eval/<label>.json``), so a killed loop resumes at the stage it was in: a finished E-step
is not resampled, a finished M-step not retrained, and a stage cut short resumes through the
engine's own resume (no finished sample is drawn twice). One sampler stays open while the
policy does not change (iteration k's evaluation and iteration k+1's E-step share it); it is
closed before training.

Where sampling and verification run is the executor's business (``verigen.executors``):
``local`` keeps the sampler and the pools in this process, ``ray`` in actors on a cluster,
opened once for the whole loop (a new checkpoint is loaded by the same sampler actors). The
M-step always trains here, on the driver, and the run directory is the same either way.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from verigen.config import OutputConfig, RunConfig, SamplingConfig, TaskConfig
from verigen.engine import NullProgress, Plan, ProgressSink, SamplerSpec, VerifierSpec, execute, pending, plan
from verigen.errors import UsageError
from verigen.executors import ExecutorOptions, Session, session
from verigen.loops._markers import read_marker, write_marker
from verigen.loops._rest_config import LoopConfig
from verigen.rundir import RunDir, write_jsonl_atomic
from verigen.train import TrainResult, file_sha256, train_sft
from verigen.types import JSONValue

log = logging.getLogger(__name__)

LOOP_MANIFEST = "loop.json"
LOOP_CONFIG = "loop-config.json"
# Backends whose --model can be a checkpoint folder; the fake one replays its script for
# every policy (tests, dry runs).
CHECKPOINT_BACKENDS = ("transformers", "vllm")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalSpec:
    label: str  # file-safe: heldout-<task>-<split>, train-<task>-<split>, fewshot<K>-<task>-<split>
    kind: str  # heldout | train | fewshot
    task: TaskConfig


def _json(value: object) -> JSONValue:
    data: JSONValue = json.loads(json.dumps(value, default=str))
    return data


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


class RestLoop:
    """One loop in one directory; ``run()`` does what is left of it."""

    def __init__(self, config: LoopConfig, out: Path, progress: ProgressSink | None = None,
                 executor: ExecutorOptions | None = None) -> None:
        if config.model.backend not in (*CHECKPOINT_BACKENDS, "fake"):
            raise UsageError(
                f"rest: backend {config.model.backend!r} cannot load a checkpoint folder as --model; "
                f"use one of {', '.join(CHECKPOINT_BACKENDS)} (or fake for dry runs)"
            )
        if not config.rest.eval_tasks and not config.rest.eval_train:
            raise UsageError("rest: nothing to evaluate: give --eval-task or keep rest.eval_train")
        self.config = config
        self.out = out.resolve()
        self.progress = progress or NullProgress()
        self.executor = executor or ExecutorOptions()  # not part of the loop's config: a loop may resume on another
        self._session: Session | None = None
        self._train_split = ""
        self._specs: list[EvalSpec] = []

    # -- lifecycle ------------------------------------------------------------------------

    def run(self) -> dict[str, JSONValue]:
        """Every stage not yet finished; returns the loop manifest."""
        self._check_dir()
        # Every stage's config is validated before anything is written (in a scratch folder
        # name that is never created: plan() only reads).
        first = plan(self._estep_config(1, self.config.base_model, self.out / "_check"))
        self._train_split = first.split
        self._specs = self._eval_specs()
        heldout = [plan(self._eval_config(s, self.config.base_model, self.out / "_check")) for s in self._specs]
        from verigen.export import refuse_heldout
        from verigen.sampling.model_store import resolve_model

        refuse_heldout(first.config.output, first.task.name, first.split)
        resolve_model(self.config.base_model)  # the model the M-step trains (cheap: nothing loads)
        self.out.mkdir(parents=True, exist_ok=True)
        write_marker(self.out / LOOP_CONFIG, self._config_json())
        (self.out / "heldout").mkdir(exist_ok=True)
        for spec, hp in zip(self._specs, heldout):
            if spec.kind != "train":
                write_jsonl_atomic(self._heldout_file(spec), ({"id": pr.id, "prompt": pr.prompt} for pr in hp.problems))
        iterations: list[JSONValue] = []
        with session(self.executor) as self._session:
            for k in range(self.config.rest.iterations + 1):
                iterations.append(self._iteration(k))
                self._loop_manifest(iterations, finished=False)  # links what is done so far
        self._session = None
        manifest = self._loop_manifest(iterations, finished=True)
        from verigen.loops._rest_report import write_loop_report

        write_loop_report(self.out, manifest, plots=self.config.output.report_plots)
        return manifest

    def _open(self) -> Session:
        if self._session is None:
            raise RuntimeError("a stage ran outside RestLoop.run()")
        return self._session

    def _check_dir(self) -> None:
        old = read_marker(self.out / LOOP_CONFIG)
        if old is None:
            if self.out.exists() and any(self.out.iterdir()):
                raise UsageError(f"--out {str(self.out)!r} is not empty and holds no verigen rest loop; choose another --out")
            return
        new = self._config_json()
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                raise UsageError(
                    f"--out {str(self.out)!r} holds a loop with another config ({key}: {old.get(key)!r} there, "
                    f"{new.get(key)!r} now); only rest.iterations may change on resume"
                )

    def _config_json(self) -> dict[str, JSONValue]:
        data = json.loads(self.config.model_dump_json())
        data["rest"].pop("iterations", None)  # a finished loop may be extended
        return {k: _json(v) for k, v in data.items()}

    # -- stage configs --------------------------------------------------------------------

    def _iter_dir(self, k: int) -> Path:
        return self.out / f"iter_{k}"

    def _heldout_file(self, spec: EvalSpec) -> Path:
        return self.out / "heldout" / f"{spec.label}.jsonl"

    def _model(self, spec: str) -> dict[str, object]:
        model = self.config.model.model_dump(mode="json")
        if self.config.model.backend in CHECKPOINT_BACKENDS:
            model["name"] = spec
        return model

    def _run_config(self, mode: str, task: TaskConfig, model: str, sampling: SamplingConfig,
                    output: OutputConfig) -> RunConfig:
        return RunConfig.model_validate({
            "mode": mode, "task": task.model_dump(mode="json"), "model": self._model(model),
            "sampling": sampling.model_dump(mode="json"), "verify": self.config.verify.model_dump(mode="json"),
            "sandbox": self.config.sandbox.model_dump(mode="json"), "output": output.model_dump(mode="json"),
        })

    def _estep_config(self, k: int, policy: str, out: Path | None = None) -> RunConfig:
        cfg = self.config
        seed = cfg.sampling.seed + k * cfg.rest.seed_stride
        decontam = cfg.output.decontam.model_copy(update={
            "against": [*cfg.output.decontam.against,
                        *(str(self._heldout_file(s)) for s in self._specs if s.kind != "train")],
        })
        output = cfg.output.model_copy(update={
            "out": out or self._iter_dir(k) / "estep", "max_per_problem": cfg.rest.max_per_problem,
            "formats": ["sft"], "decontam": decontam, "report_html": False, "report_plots": False,
        })
        return self._run_config("generate", cfg.task, policy, cfg.sampling.model_copy(update={"seed": seed}), output)

    def _eval_specs(self) -> list[EvalSpec]:
        cfg = self.config
        specs: list[EvalSpec] = []
        for t in cfg.rest.eval_tasks:
            task = t if t.split else t.model_copy(update={"split": "test"})
            specs.append(EvalSpec(label=_safe(f"heldout-{task.name}-{task.split}"), kind="heldout", task=task))
        if cfg.rest.eval_train:
            task = cfg.task.model_copy(update={"split": self._train_split})
            specs.append(EvalSpec(label=_safe(f"train-{task.name}-{task.split}"), kind="train", task=task))
        if cfg.rest.fewshot_baseline:
            k = cfg.rest.fewshot_baseline
            for s in [s for s in specs if s.kind == "heldout"]:
                task = s.task.model_copy(update={"fewshot": k})
                specs.append(EvalSpec(label=_safe(f"fewshot{k}-{task.name}-{task.split}"), kind="fewshot", task=task))
        labels = [s.label for s in specs]
        if len(set(labels)) != len(labels):
            raise UsageError(f"rest: two evaluations share a name: {labels}")
        return specs

    def _eval_config(self, spec: EvalSpec, model: str, out: Path) -> RunConfig:
        cfg = self.config
        sampling = cfg.sampling.model_copy(update={
            "n": cfg.rest.eval_n or cfg.sampling.n,
            "temperature": cfg.sampling.temperature if cfg.rest.eval_temperature is None else cfg.rest.eval_temperature,
        })
        output = OutputConfig(out=out, formats=[], report_html=False, report_plots=False)
        return self._run_config("evaluate", spec.task, model, sampling, output)

    # -- one iteration --------------------------------------------------------------------

    def _policy_after(self, k: int) -> str:
        """The model that iteration k leaves: the base for 0, else its checkpoint (or the
        previous policy when its M-step had nothing to train on)."""
        if k == 0:
            return self.config.base_model
        done = read_marker(self._iter_dir(k) / "mstep" / "train.json")
        return str(done["checkpoint"]) if done is not None else self._policy_after(k - 1)

    def _iteration(self, k: int) -> dict[str, JSONValue]:
        d = self._iter_dir(k)
        manifest_path = d / "manifest.json"
        estep: dict[str, JSONValue] | None = None
        mstep: dict[str, JSONValue] | None = None
        if k > 0:
            policy = self._policy_after(k - 1)
            estep = self._estep(k, policy)
            mstep = self._mstep(k, estep)
        model = self._policy_after(k)
        evals: dict[str, JSONValue] = {s.label: self._evaluate(k, s, model) for s in self._specs}
        cfg = self.config
        manifest: dict[str, JSONValue] = {
            "iteration": k,
            "base_model": cfg.base_model,
            "policy_sampled": estep.get("model") if estep else None,
            "evaluated_model": model,
            "estep": estep,
            "mstep": mstep,
            "seeds": {"task": cfg.task.seed, "estep_sampling": cfg.sampling.seed + k * cfg.rest.seed_stride if k else None,
                      "eval_sampling": cfg.sampling.seed, "train": cfg.train.seed},
            "training_config": _json(json.loads(cfg.train.model_dump_json())),
            "evals": evals,
            "finished": datetime.now(UTC).isoformat(),
        }
        old = read_marker(manifest_path)
        if old is not None and {k2: v for k2, v in old.items() if k2 != "finished"} == {
            k2: v for k2, v in manifest.items() if k2 != "finished"
        }:
            manifest["finished"] = old.get("finished")
        write_marker(manifest_path, manifest)
        return manifest

    def _execute(self, p: Plan) -> None:
        """One stage on the session's sampler and pool; a stage with nothing left to sample
        (or verify) asks for no sampler (or pool), so a finished loop loads nothing."""
        todo = pending(p, RunDir(p.out, p.config).latest())
        s = self._open()
        sampler = s.sampler(SamplerSpec.of(p)) if todo.requests else None
        pool = None
        if todo.requests or todo.retry:
            pool = s.pool(VerifierSpec.of(p), workers=p.config.verify.workers, time_limit_s=p.config.verify.time_limit_s)
        execute(p, self.progress, sampler=sampler, pool=pool)

    def _estep(self, k: int, policy: str) -> dict[str, JSONValue]:
        marker = self._iter_dir(k) / "estep.json"
        done = read_marker(marker)
        if done is not None:
            return done
        p = plan(self._estep_config(k, policy))
        self._execute(p)
        m = read_marker(p.out / "manifest.json") or {}
        metrics = read_marker(p.out / "metrics.json") or {}
        sft = p.out / "sft.jsonl"
        exports = m.get("exports")
        decontam = exports.get("decontamination") if isinstance(exports, dict) else None
        contamination: JSONValue = (
            {"counts": decontam.get("counts"), "hits": decontam.get("hits")} if isinstance(decontam, dict) else None
        )
        rows = sum(1 for line in sft.read_text(encoding="utf-8").splitlines() if line.strip()) if sft.exists() else 0
        result: dict[str, JSONValue] = {
            "run_dir": str(p.out), "model": policy, "dataset": str(sft),
            "dataset_sha256": file_sha256(sft) if sft.exists() else None, "rows": rows,
            "problems": len(p.problems), "samples": m.get("samples"), "outcomes": metrics.get("outcomes"),
            "accepted_problems": metrics.get("accepted_problems"), "max_per_problem": self.config.rest.max_per_problem,
            "verifier": m.get("verifier"), "verifier_version": m.get("verifier_version"),
            "sampling_seed": p.config.sampling.seed, "contamination": contamination,
        }
        write_marker(marker, result)
        return result

    def _mstep(self, k: int, estep: dict[str, JSONValue]) -> dict[str, JSONValue]:
        rows = estep.get("rows")
        if not isinstance(rows, int) or rows == 0:
            log.warning("iteration %d: no verified samples to train on; the policy stays as it was", k)
            return {"skipped": "the E-step kept no verified sample"}
        base = self.config.base_model if self.config.rest.from_base else self._policy_after(k - 1)
        self._open().release_sampler()  # frees the policy's memory (here or in the sampler actors) before training
        self.progress.stage(f"training (iteration {k})", 1)
        result: TrainResult = train_sft(Path(str(estep["dataset"])), base, self._iter_dir(k) / "mstep", self.config.train)
        self.progress.advance(f"training (iteration {k})")
        return result.to_json()

    def _evaluate(self, k: int, spec: EvalSpec, model: str) -> dict[str, JSONValue]:
        marker = self._iter_dir(k) / "eval" / f"{spec.label}.json"
        done = read_marker(marker)
        if done is not None:
            return done
        p = plan(self._eval_config(spec, model, self._iter_dir(k) / "eval" / spec.label))
        self._execute(p)
        metrics = read_marker(p.out / "metrics.json") or {}
        result: dict[str, JSONValue] = {
            "kind": spec.kind, "task": p.task.name, "split": p.split, "fewshot": spec.task.fewshot,
            "run_dir": str(p.out), "model": model, "n": p.config.sampling.n, "metrics": metrics,
        }
        write_marker(marker, result)
        return result

    def _loop_manifest(self, iterations: list[JSONValue], *, finished: bool) -> dict[str, JSONValue]:
        cfg = self.config
        links: list[JSONValue] = []
        for it in iterations:
            if not isinstance(it, dict):
                continue
            mstep = it.get("mstep")
            k = it["iteration"]
            links.append({
                "iteration": k, "manifest": str(self._iter_dir(int(str(k))) / "manifest.json"),
                "checkpoint": mstep.get("checkpoint") if isinstance(mstep, dict) else None,
                "checkpoint_sha256": mstep.get("checkpoint_sha256") if isinstance(mstep, dict) else None,
                "evaluated_model": it.get("evaluated_model"),
            })
        manifest: dict[str, JSONValue] = {
            "method": "ReST-EM (Singh et al. 2023, arXiv 2312.06585)",
            "train_task": cfg.task.name, "train_split": self._train_split,
            "eval": [{"label": s.label, "kind": s.kind, "task": s.task.name, "split": s.task.split} for s in self._specs],
            "base_model": cfg.base_model, "from_base": cfg.rest.from_base,
            "iterations": links, "finished": finished, "updated": datetime.now(UTC).isoformat(),
            "config": _json(json.loads(cfg.model_dump_json())),
            "per_iteration": iterations,
        }
        write_marker(self.out / LOOP_MANIFEST, manifest)
        return manifest

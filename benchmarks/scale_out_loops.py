"""A loop's stages on Ray with one session (actors kept) against actors started per stage, and
the per-actor generation and verification rates the N-GPU model in RESULTS.md rests on.

    unshare --net sh -c 'ip link set lo up && .venv/bin/python benchmarks/scale_out_loops.py --stages 6'

(In a network namespace with only ``lo``: the private Ray cluster can reach nothing else.)

Part 1, stages: ``--stages`` evaluate stages (each its own problems: task seed = stage), the
fake sampler (right answer plus three wrong ones per problem, no delay), the real math
verifier, run three ways: a local session, one Ray session for every stage (what ``rest`` and
``selfplay`` do), and ``executors.run`` per stage (sampler and verifier actors started and
killed for every stage: what a loop without a session would pay).

Part 2, rates: verified samples/s of one math verifier actor (``verify.workers=1``) fed in
batches (distinct answers: integers, fractions, surds, expressions, no answer), against the
same pool in this process; then the default model (SmolLM2-135M-Instruct,
transformers, CPU) in one sampler actor: first load, samples/s and tokens/s, and the unload /
load again that follows every M-step.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from verigen.config import build_config
from verigen.engine import Plan, SamplerSpec, VerifierSpec, check_model, execute, plan
from verigen.executors import ExecutorOptions, RayOptions, run, session
from verigen.sampling.base import SampleRequest
from verigen.types import ChatMessage, SamplingParams
from verigen.verify.pool import verify_all


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", type=int, default=6)
    ap.add_argument("--problems", type=int, default=25, help="problems per stage")
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--checks", type=int, default=2000, help="checks for the verifier rate")
    ap.add_argument("--gen-requests", type=int, default=4)
    ap.add_argument("--gen-n", type=int, default=2)
    ap.add_argument("--gen-tokens", type=int, default=48)
    ap.add_argument("--skip-model", action="store_true", help="no default-model part")
    return ap.parse_args()


def _sets(a: argparse.Namespace, stage: int) -> list[str]:
    return ["mode=evaluate", "task.name=arithmetic", "task.split=test", f"task.seed={stage}",
            f"task.args.count={a.problems}", f"sampling.n={a.n}", "model.backend=fake", "verify.workers=1",
            "output.report_plots=false", "output.report_html=false"]


def _script(tmp: Path, a: argparse.Namespace) -> Path:
    script: dict[str, list[str]] = {}
    for stage in range(a.stages):
        probe = plan(build_config(overrides=[*_sets(a, stage), "model.name=echo", f"output.out={tmp / 'probe'}"]))
        for p in probe.problems:
            gold = p.reference.text  # type: ignore[attr-defined]
            script[p.id] = [f"The answer is \\boxed{{{gold}}}.", f"\\boxed{{{gold}1}}", "no idea", f"so {gold}+1"]
    sf = tmp / "script.json"
    sf.write_text(json.dumps(script))
    return sf


def _plans(tmp: Path, a: argparse.Namespace, sf: Path, name: str) -> list[Plan]:
    return [plan(build_config(overrides=[*_sets(a, s), f"model.name={sf}", f"output.out={tmp / name / str(s)}"]))
            for s in range(a.stages)]


def _stages(tmp: Path, a: argparse.Namespace, sf: Path) -> None:
    ray_options = ExecutorOptions(kind="ray", ray=RayOptions())
    total = a.problems * a.n
    for name, options in (("local session", ExecutorOptions()), ("ray session", ray_options)):
        times = []
        start = time.perf_counter()
        with session(options) as s:
            for p in _plans(tmp, a, sf, name.replace(" ", "-")):
                t = time.perf_counter()
                pool = s.pool(VerifierSpec.of(p), workers=1, time_limit_s=p.config.verify.time_limit_s)
                execute(p, None, sampler=s.sampler(SamplerSpec.of(p)), pool=pool)
                times.append(time.perf_counter() - t)
        _report(name, times, time.perf_counter() - start, total)
    times = []
    start = time.perf_counter()
    for p in _plans(tmp, a, sf, "ray-per-stage"):
        t = time.perf_counter()
        run(p, None, ray_options)
        times.append(time.perf_counter() - t)
    _report("ray, actors per stage", times, time.perf_counter() - start, total)


def _report(name: str, times: list[float], wall: float, per_stage: int) -> None:
    later = times[1:] or times
    print(f"{name:22s} {len(times)} stages in {wall:6.2f} s; first stage {times[0]:5.2f} s, later stages "
          f"{sum(later) / len(later):5.2f} s each ({per_stage / (sum(later) / len(later)):6.1f} verified samples/s); "
          f"load {os.getloadavg()[0]:.1f}")


def _verify_rate(tmp: Path, a: argparse.Namespace, sf: Path) -> None:
    p = plan(build_config(overrides=[*_sets(a, 0), f"model.name={sf}", f"output.out={tmp / 'rate'}"]))
    # Distinct answers (no dedup shortcut) in the forms real outputs take: integers, fractions,
    # surds and expressions (SymPy parses those), and text with no answer.
    forms = ["The answer is \\boxed{{{i}}}.", "So the result is \\boxed{{\\frac{{{i}}}{{7}}}}.",
             "Hence \\boxed{{{i}\\sqrt{{2}} + 1}}.", "x = {i}/3 + 2", "I am not sure about {i}."]
    texts = [forms[i % len(forms)].format(i=i) for i in range(a.checks)]
    jobs = [(p.problems[i % len(p.problems)], t) for i, t in enumerate(texts)]
    for name, options in (("local pool", ExecutorOptions()), ("ray verifier actor", ExecutorOptions(kind="ray"))):
        with session(options) as s:
            pool = s.pool(VerifierSpec.of(p), workers=1, time_limit_s=p.config.verify.time_limit_s)
            list(verify_all(pool, jobs[:32]))  # warm: worker started, sympy imported
            start = time.perf_counter()
            verdicts = list(verify_all(pool, jobs))
            wall = time.perf_counter() - start
        print(f"{name:22s} {len(verdicts)} math checks in {wall:6.2f} s: {len(verdicts) / wall:7.1f} checks/s "
              f"(verify.workers=1; load {os.getloadavg()[0]:.1f})")


def _model_rate(a: argparse.Namespace) -> None:
    cfg = build_config(overrides=["model.backend=transformers", "model.name=default", "model.device=cpu"])
    spec = SamplerSpec(backend="transformers", model="default", options=check_model(cfg.model))
    params = SamplingParams(n=a.gen_n, temperature=0.7, max_tokens=a.gen_tokens, seed=0)
    requests = [SampleRequest(problem_id=f"q{i}", indices=tuple(range(a.gen_n)),
                              messages=(ChatMessage(role="user", content=f"Explain why {i} + {i} = {2 * i}."),))
                for i in range(a.gen_requests)]
    with session(ExecutorOptions(kind="ray", ray=RayOptions(request_batch=a.gen_requests))) as s:
        start = time.perf_counter()
        sampler = s.sampler(spec)
        load = time.perf_counter() - start
        start = time.perf_counter()
        outs = list(sampler.stream(requests, params))
        gen = time.perf_counter() - start
        tokens = sum(o.completion.completion_tokens or 0 for o in outs)
        start = time.perf_counter()
        s.release_sampler()
        s.sampler(spec)
        reload = time.perf_counter() - start
    print(f"default model in a sampler actor: first load {load:.1f} s; {len(outs)} samples ({tokens} tokens) in "
          f"{gen:.1f} s = {len(outs) / gen:.2f} samples/s, {tokens / gen:.1f} tok/s; unload + load again "
          f"(after each M-step) {reload:.1f} s; load {os.getloadavg()[0]:.1f}")


def main() -> None:
    a = _args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="scale-loops-"))
    sf = _script(tmp, a)
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {a.stages} stages x {a.problems} problems x {a.n} samples")
    import ray

    start = time.perf_counter()
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=4, log_to_driver=False,
             logging_level=logging.WARNING)
    print(f"private Ray cluster up in {time.perf_counter() - start:.1f} s")
    try:
        _stages(tmp, a, sf)
        _verify_rate(tmp, a, sf)
        if not a.skip_model:
            _model_rate(a)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()

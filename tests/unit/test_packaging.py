"""pyproject.toml lists its packages (one is mapped from sandboxes/python): every package
under verigen/ must be in the list, or a wheel would silently lack it."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_verigen_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "verigen").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["verigen._sandbox"] == "sandboxes/python"
    assert (REPO / "sandboxes" / "python" / "__init__.py").is_file()


def test_every_imported_third_party_package_is_declared() -> None:
    import ast
    import sys

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = " ".join([*project["dependencies"], *(d for extra in project["optional-dependencies"].values() for d in extra)])
    names = {"tomli_w": "tomli-w", "llama_cpp": "llama-cpp-python"}
    missing = set()
    for path in (REPO / "verigen").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for mod in mods:
                top = mod.split(".")[0]
                if top in sys.stdlib_module_names or top == "verigen":
                    continue
                if names.get(top, top) not in declared:
                    missing.add(f"{top} ({path.relative_to(REPO)})")
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"

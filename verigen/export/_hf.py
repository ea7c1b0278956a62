"""The ``hf`` export: a ``datasets.DatasetDict`` with declared features, saved to disk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.types import JSONValue


def _features() -> dict[str, Any]:
    try:
        import datasets
    except ImportError:
        raise UsageError("the hf export needs the `datasets` package: pip install 'verigen[train]'") from None
    lst = getattr(datasets, "List", None) or datasets.Sequence  # datasets >= 4 has List
    s, i, f = datasets.Value("string"), datasets.Value("int64"), datasets.Value("float64")
    message = {"role": s, "content": s}
    params = {"n": i, "temperature": f, "top_p": f, "max_tokens": i, "stop": lst(s), "seed": i}
    prov = {
        "task": s, "problem_id": s, "sample_index": i, "model": s, "params": params, "seed": i,
        "verifier": s, "verifier_version": s, "outcome": s, "answer": s, "detail": s, "run_id": s,
    }
    conv = lst(message)
    return {
        "sft": {"messages": conv, "provenance": prov},
        "dpo": {"prompt": conv, "chosen": conv, "rejected": conv, "chosen_provenance": prov, "rejected_provenance": prov},
        "rm": {"chosen": conv, "rejected": conv, "chosen_provenance": prov, "rejected_provenance": prov},
        "rm_ranked": {"prompt": conv, "completions": lst(conv), "labels": lst(f), "provenance": lst(prov)},
    }


def features(kind: str) -> Any:
    """The declared ``datasets.Features`` of one export kind."""
    import datasets

    return datasets.Features(_features()[kind])


def build_dataset_dict(splits: Mapping[str, Sequence[Mapping[str, JSONValue]]]) -> Any:
    """One split per export kind, each with its declared features (empty splits kept)."""
    import datasets

    out = {}
    for kind, rows in splits.items():
        feats = features(kind)
        columns = {name: [r[name] for r in rows] for name in feats}
        out[kind] = datasets.Dataset.from_dict(columns, features=feats)
    return datasets.DatasetDict(out)


def save_hf(splits: Mapping[str, Sequence[Mapping[str, JSONValue]]], path: Path, *, push_to_hub: str | None = None) -> Any:
    dd = build_dataset_dict(splits)
    dd.save_to_disk(str(path))
    if push_to_hub:
        # Needs network and a token (HF_TOKEN); not reachable from the machines this is tested on.
        dd.push_to_hub(push_to_hub)
    return dd

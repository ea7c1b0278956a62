"""A deterministic, scripted sampler for tests and dry runs.

``--model`` is a path to a JSON file ``{"<problem_id>": ["text", ...], "*": ["text", ...]}``:
sample ``i`` of a problem is its list's item ``i`` modulo the list's length; problems not
in the file use ``"*"``. ``--model echo`` answers every prompt with its own last message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from verigen.errors import UsageError
from verigen.sampling.base import SamplerOptions
from verigen.types import Completion, GenerationRequest, SamplingParams


class FakeSampler:
    name = "fake"

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        self.options = options or SamplerOptions()
        self.script: dict[str, list[str]] = {}
        self.echo = model == "echo"
        if not self.echo:
            self.script = _load_script(Path(model))
        self.model_id = f"fake:{model}"

    def generate(
        self, requests: Sequence[GenerationRequest], params: SamplingParams
    ) -> list[list[Completion]]:
        out: list[list[Completion]] = []
        for req in requests:
            if self.echo:
                texts = [req.messages[-1].content] if req.messages else [""]
            else:
                texts = self.script.get(req.problem_id) or self.script.get("*") or []
                if not texts:
                    raise UsageError(
                        f"fake sampler script has no entry for problem {req.problem_id!r} "
                        "and no '*' default"
                    )
            out.append(
                [
                    Completion(
                        text=texts[i % len(texts)],
                        finish_reason="stop",
                        prompt_tokens=sum(len(m.content.split()) for m in req.messages),
                        completion_tokens=len(texts[i % len(texts)].split()),
                    )
                    for i in range(params.n)
                ]
            )
        return out

    def close(self) -> None:
        return None


def _load_script(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"fake sampler: --model {str(path)!r} is not a script file (or use 'echo')"
        ) from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"fake sampler script {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"fake sampler script {str(path)!r} must be a JSON object")
    script: dict[str, list[str]] = {}
    for key, value in data.items():
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise UsageError(
                f"fake sampler script {str(path)!r}: entry {key!r} must be a string or a list of strings"
            )
        script[str(key)] = texts
    return script

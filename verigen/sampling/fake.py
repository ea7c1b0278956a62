"""A deterministic, scripted sampler for tests, dry runs and engine benchmarks.

``--model`` is a path to a JSON file ``{"<problem_id>": ["text", ...], "*": ["text", ...]}``:
sample ``i`` of a problem is its list's item ``i`` modulo the list's length; problems not
in the file use ``"*"``. ``--model echo`` answers every prompt with its own last message.
Option ``delay_s`` spends that long on each sample (a stand-in for generation time); a
request's samples come out together after ``delay_s`` times their count.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import Field

from verigen.errors import UsageError
from verigen.sampling.base import SampleOutput, SampleRequest, SamplerOptions
from verigen.types import Completion, JSONValue, SamplingParams


class FakeOptions(SamplerOptions):
    delay_s: float = Field(default=0.0, ge=0.0, le=60.0)


class FakeSampler:
    name = "fake"
    Options = FakeOptions

    def __init__(self, model: str, options: SamplerOptions | None = None) -> None:
        self.options = options if isinstance(options, FakeOptions) else FakeOptions()
        self.echo = model == "echo"
        self.script: dict[str, list[str]] = {} if self.echo else _load_script(Path(model))
        self.model_id = f"fake:{model}"

    @classmethod
    def check(cls, model: str, options: SamplerOptions) -> None:
        if model != "echo":
            _load_script(Path(model))

    def _texts(self, request: SampleRequest) -> list[str]:
        if self.echo:
            return [request.messages[-1].content] if request.messages else [""]
        texts = self.script.get(request.problem_id) or self.script.get("*") or []
        if not texts:
            raise UsageError(
                f"fake sampler script has no entry for problem {request.problem_id!r} and no '*' default"
            )
        return texts

    def stream(self, requests: Sequence[SampleRequest], params: SamplingParams) -> Iterator[SampleOutput]:
        for request in requests:
            texts = self._texts(request)
            prompt_tokens = sum(len(m.content.split()) for m in request.messages)
            if self.options.delay_s:  # one request's samples come out together, as from a batch
                time.sleep(self.options.delay_s * len(request.indices))
            for index in request.indices:
                text = texts[index % len(texts)]
                completion = Completion(
                    text=text, finish_reason="stop", prompt_tokens=prompt_tokens,
                    completion_tokens=len(text.split()),
                )
                yield SampleOutput(
                    problem_id=request.problem_id, index=index, completion=completion,
                    latency_s=self.options.delay_s,
                )

    def provenance(self, params: SamplingParams) -> dict[str, JSONValue]:
        return {"backend": self.name, "script": "echo" if self.echo else "file", "delay_s": self.options.delay_s}

    def close(self) -> None:
        return None


def _load_script(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise UsageError(f"fake sampler: --model {str(path)!r} is not a script file (or use 'echo')") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"fake sampler script {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"fake sampler script {str(path)!r} must be a JSON object")
    script: dict[str, list[str]] = {}
    for key, value in data.items():
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise UsageError(f"fake sampler script {str(path)!r}: entry {key!r} must be a string or a list of strings")
        script[str(key)] = texts
    return script

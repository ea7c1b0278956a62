"""The row written to ``samples.jsonl``: one sample, its verdict and its provenance."""

from __future__ import annotations

from dataclasses import dataclass

from verigen.errors import UsageError
from verigen.types import JSONValue, Outcome, Sample, SamplingParams, Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRecord:
    task: str
    sample: Sample
    verdict: Verdict

    @property
    def key(self) -> tuple[str, int]:
        return (self.sample.problem_id, self.sample.index)

    def to_json(self) -> dict[str, JSONValue]:
        s = self.sample
        return {
            "task": self.task,
            "problem_id": s.problem_id,
            "sample_index": s.index,
            "model": s.model,
            "params": s.params.to_json(),
            "text": s.text,
            "finish_reason": s.finish_reason,
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens,
            "latency_s": s.latency_s,
            "verdict": self.verdict.to_json(),
        }

    @classmethod
    def from_json(cls, row: dict[str, JSONValue], where: str) -> SampleRecord:
        try:
            p = row["params"]
            v = row["verdict"]
            if not isinstance(p, dict) or not isinstance(v, dict):
                raise TypeError("params and verdict must be objects")
            params = SamplingParams(
                n=int(p["n"]),  # type: ignore[arg-type]
                temperature=float(p["temperature"]),  # type: ignore[arg-type]
                top_p=float(p["top_p"]),  # type: ignore[arg-type]
                max_tokens=int(p["max_tokens"]),  # type: ignore[arg-type]
                stop=tuple(str(x) for x in p.get("stop") or []),  # type: ignore[union-attr]
                seed=int(p.get("seed") or 0),  # type: ignore[arg-type]
            )
            sample = Sample(
                problem_id=str(row["problem_id"]),
                index=int(row["sample_index"]),  # type: ignore[arg-type]
                text=str(row["text"]),
                model=str(row["model"]),
                params=params,
                finish_reason=_opt_str(row.get("finish_reason")),
                prompt_tokens=_opt_int(row.get("prompt_tokens")),
                completion_tokens=_opt_int(row.get("completion_tokens")),
                latency_s=float(row["latency_s"]) if row.get("latency_s") is not None else None,  # type: ignore[arg-type]
            )
            verdict = Verdict(
                outcome=Outcome(v["outcome"]),
                answer=_opt_str(v.get("answer")),
                detail=str(v.get("detail") or ""),
                verifier=str(v.get("verifier") or ""),
                verifier_version=str(v.get("verifier_version") or ""),
                canonical=_opt_str(v.get("canonical")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where}: malformed sample record ({exc!r})") from None
        return cls(task=str(row.get("task", "")), sample=sample, verdict=verdict)


def _opt_str(v: JSONValue) -> str | None:
    return None if v is None else str(v)


def _opt_int(v: JSONValue) -> int | None:
    return None if v is None else int(v)  # type: ignore[arg-type]

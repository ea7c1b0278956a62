"""LLM-as-judge: the model grades (instruction, response) on an additive 5-point rubric
(after Yuan et al. 2024, "Self-Rewarding Language Models", arXiv 2401.10020).

The rubric awards one point for each of five criteria, each building on the last: the
response is relevant; it addresses a substantial part of the request; it answers the core
of it usefully; it is clear and well organized, written as an assistant would; it is
expert, focused and complete. The judge ends with a line ``Score: <0-5>``.

Parsing is strict (``parse_score``): the last non-empty line must be that score line, an
integer from 0 to 5; a judgement with no such line, a score out of range, or several
score lines that disagree is *unparseable*: it has no score (None), is counted, and is
never read as 0. A sample's score is the mean of its parseable judgements.

Judge requests go through an ordinary ``Sampler``: the judgement of sample ``i`` of problem
``P`` is request ``judge/P``, index ``i`` (``i * samples + j`` for its ``j``-th judgement when
``samples > 1``), so a fake-backend script ``{"judge/P": ["... Score: 4", ...]}`` scripts
the judge as it scripts answers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from verigen.errors import UsageError
from verigen.sampling.base import Sampler, SampleRequest
from verigen.types import ChatMessage, JSONValue, SamplingParams

if TYPE_CHECKING:
    from verigen.config import ModelConfig

__all__ = ["JUDGE_PREFIX", "MAX_SCORE", "JudgeAgreement", "JudgeConfig", "JudgeItem", "JudgeScore", "Judgement",
           "agreement", "judge_prompt", "judge_responses", "open_judge", "parse_score", "preference_pair", "roc_auc"]

JUDGE_PREFIX = "judge/"
MAX_SCORE = 5
MAX_RESPONSE_CHARS = 6000  # longer responses are cut (and say so) to keep the judge prompt bounded

_RUBRIC = """\
Review the user's instruction and the candidate response below, and grade the response with \
the additive 5-point scale that follows. Points add up: award each one only when its \
condition holds.

- 1 point: the response is relevant to the instruction and gives some information related \
to it, even if it is incomplete or contains some irrelevant content.
- A 2nd point: the response addresses a substantial part of the request, even if it does \
not fully resolve it or answer it directly.
- A 3rd point: the response answers the essential core of the request in a useful way, \
even if it is not written as a perfect assistant answer would be.
- A 4th point: the response is clearly written from an assistant's perspective, directly \
and comprehensively addresses the request, and is well organized and helpful, with at \
most minor room for more clarity or focus.
- A 5th point: the response is impeccably tailored to the request, with no extraneous \
content, and shows expert knowledge in a high-quality, engaging and insightful answer.

<instruction>
{instruction}
</instruction>

<response>
{response}
</response>

First justify your grade in at most 100 words. Then end with a last line of exactly this \
form, where N is the total points (an integer from 0 to 5):
Score: N"""

# A score line: "Score: 4", "**Score:** 4", "Score: 4/5", "Score: 4." (one per line).
_SCORE_LINE = re.compile(
    r"^\W{0,3}score\W{0,3}\s*[:=]\s*\**\s*(?P<value>[-+]?\d+(?:\.\d+)?)\s*(?:/\s*5)?\s*\**\s*\.?\s*$",
    re.IGNORECASE,
)


def judge_prompt(instruction: str, response: str) -> str:
    """The rubric prompt for one (instruction, response) pair."""
    if len(response) > MAX_RESPONSE_CHARS:
        response = response[:MAX_RESPONSE_CHARS] + "\n[... response cut here ...]"
    return _RUBRIC.format(instruction=instruction.strip(), response=response.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """One judge reply: its score (None when unparseable, with ``reason`` saying why)."""

    text: str
    score: int | None
    reason: str = ""

    def to_json(self) -> dict[str, JSONValue]:
        return {"score": self.score, "reason": self.reason, "text": self.text}


def parse_score(text: str) -> Judgement:
    """The final ``Score: <0-5>`` of a judge reply, strictly (see the module doc)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = [m.group("value") for m in (_SCORE_LINE.match(line) for line in lines) if m]
    if not lines or not _SCORE_LINE.match(lines[-1]):
        return Judgement(text=text, score=None, reason="no final 'Score: <0-5>' line")
    if len(set(found)) > 1:
        return Judgement(text=text, score=None, reason=f"several different scores ({', '.join(found)})")
    value = found[-1]
    if not re.fullmatch(r"\+?\d+", value) or not 0 <= int(value) <= MAX_SCORE:
        return Judgement(text=text, score=None, reason=f"score {value} is not an integer from 0 to {MAX_SCORE}")
    return Judgement(text=text, score=int(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeConfig:
    """How the judge samples: ``samples`` judgements per response, averaged (the paper
    averages three sampled judgements; the default here is one greedy judgement)."""

    samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int = 0
    threshold: float = 3.0  # agreement: score >= threshold predicts "the verifier accepts"

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise UsageError(f"judge samples must be at least 1, got {self.samples}")
        if not 0 <= self.threshold <= MAX_SCORE:
            raise UsageError(f"judge threshold must be in [0, {MAX_SCORE}], got {self.threshold}")
        if self.max_tokens < 1:
            raise UsageError(f"judge max_tokens must be at least 1, got {self.max_tokens}")

    def params(self) -> SamplingParams:
        return SamplingParams(n=self.samples, temperature=self.temperature, top_p=self.top_p,
                              max_tokens=self.max_tokens, seed=self.seed)

    def to_json(self) -> dict[str, JSONValue]:
        return {"samples": self.samples, "temperature": self.temperature, "top_p": self.top_p,
                "max_tokens": self.max_tokens, "seed": self.seed, "threshold": self.threshold}


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeItem:
    """One response to judge: sample ``index`` of problem ``key``."""

    key: str
    index: int
    instruction: str
    response: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeScore:
    key: str
    index: int
    judgements: tuple[Judgement, ...]

    @property
    def score(self) -> float | None:
        """The mean of the parseable judgements; None when none parsed."""
        parsed = [j.score for j in self.judgements if j.score is not None]
        return math.fsum(parsed) / len(parsed) if parsed else None

    @property
    def unparseable(self) -> int:
        return sum(j.score is None for j in self.judgements)


def judge_responses(sampler: Sampler, items: Sequence[JudgeItem], config: JudgeConfig | None = None) -> list[JudgeScore]:
    """Every item judged ``config.samples`` times by ``sampler``; results in item order."""
    cfg = config or JudgeConfig()
    seen: set[tuple[str, int]] = set()
    requests = []
    for item in items:
        if (item.key, item.index) in seen:
            raise ValueError(f"judge_responses: item ({item.key!r}, {item.index}) given twice")
        seen.add((item.key, item.index))
        message = ChatMessage(role="user", content=judge_prompt(item.instruction, item.response))
        first = item.index * cfg.samples
        requests.append(SampleRequest(problem_id=JUDGE_PREFIX + item.key, messages=(message,),
                                      indices=tuple(range(first, first + cfg.samples))))
    texts: dict[tuple[str, int], str] = {}
    if requests:
        for out in sampler.stream(requests, cfg.params()):
            texts[(out.problem_id, out.index)] = out.completion.text
    scores = []
    for item, request in zip(items, requests, strict=True):
        missing = [i for i in request.indices if (request.problem_id, i) not in texts]
        if missing:
            raise RuntimeError(f"judge sampler {sampler.name!r} returned no judgement for {request.problem_id!r} {missing}")
        judgements = tuple(parse_score(texts[(request.problem_id, i)]) for i in request.indices)
        scores.append(JudgeScore(key=item.key, index=item.index, judgements=judgements))
    return scores


def open_judge(model: ModelConfig, name: str | None = None) -> Sampler:
    """The judge sampler: ``model``'s backend and options, with ``name`` as the model when
    given (else ``model.name``: the policy judges itself, as in Self-Rewarding LMs)."""
    from verigen.engine import check_model
    from verigen.sampling.base import create_sampler

    cfg = model if name is None else model.model_copy(update={"name": name})
    return create_sampler(cfg.backend, cfg.name, check_model(cfg))


def preference_pair(scores: Sequence[float | None]) -> tuple[int, int] | None:
    """(chosen, rejected) positions: the highest and the lowest scored response (first one
    on ties); None with fewer than two scores or when every score is the same."""
    scored = [(s, i) for i, s in enumerate(scores) if s is not None]
    if len(scored) < 2:
        return None
    best = min(scored, key=lambda t: (-t[0], t[1]))
    worst = min(scored, key=lambda t: (t[0], t[1]))
    return None if best[0] == worst[0] else (best[1], worst[1])


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` for ``labels`` (the Mann-Whitney statistic:
    the chance that a random positive outscores a random negative, ties counting half);
    None without both a positive and a negative."""
    if len(scores) != len(labels):
        raise ValueError(f"roc_auc needs one label per score, got {len(scores)} and {len(labels)}")
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = math.fsum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgeAgreement:
    """How far the judge agrees with the verifier on one sample pool."""

    samples: int  # samples judged
    scored: int  # samples with at least one parseable judgement
    unparseable_samples: int  # samples whose every judgement was unparseable (no score)
    judgements: int
    unparseable_judgements: int
    positives: int  # scored samples the verifier accepted
    negatives: int
    threshold: float
    accuracy: float | None  # of (score >= threshold) against the verdict, over scored samples
    auc: float | None
    mean_score_accepted: float | None
    mean_score_rejected: float | None
    reasons: Mapping[str, int] = field(default_factory=dict)  # why judgements were unparseable

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "samples": self.samples, "scored": self.scored, "unparseable_samples": self.unparseable_samples,
            "judgements": self.judgements, "unparseable_judgements": self.unparseable_judgements,
            "positives": self.positives, "negatives": self.negatives, "threshold": self.threshold,
            "accuracy": self.accuracy, "auc": self.auc, "mean_score_accepted": self.mean_score_accepted,
            "mean_score_rejected": self.mean_score_rejected, "unparseable_reasons": dict(self.reasons),
        }


def agreement(scores: Sequence[JudgeScore], correct: Sequence[bool], *, threshold: float = 3.0) -> JudgeAgreement:
    """The judge against the verifier: ``correct[i]`` is the verdict on ``scores[i]``'s sample
    (ERROR samples must be left out by the caller, as everywhere)."""
    if len(scores) != len(correct):
        raise ValueError(f"agreement needs one verdict per score, got {len(scores)} and {len(correct)}")
    pairs = [(s.score, ok) for s, ok in zip(scores, correct, strict=True) if s.score is not None]
    values = [v for v, _ in pairs]
    labels = [ok for _, ok in pairs]
    hits = sum((v >= threshold) == ok for v, ok in pairs)
    acc = [v for v, ok in pairs if ok]
    rej = [v for v, ok in pairs if not ok]
    reasons = Counter(j.reason for s in scores for j in s.judgements if j.score is None)
    return JudgeAgreement(
        samples=len(scores), scored=len(pairs), unparseable_samples=len(scores) - len(pairs),
        judgements=sum(len(s.judgements) for s in scores), unparseable_judgements=sum(s.unparseable for s in scores),
        positives=len(acc), negatives=len(rej), threshold=threshold,
        accuracy=hits / len(pairs) if pairs else None, auc=roc_auc(values, labels),
        mean_score_accepted=math.fsum(acc) / len(acc) if acc else None,
        mean_score_rejected=math.fsum(rej) / len(rej) if rej else None,
        reasons=dict(sorted(reasons.items())),
    )

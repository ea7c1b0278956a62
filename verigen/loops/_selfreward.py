"""Self-rewarding language models (Yuan et al. 2024, arXiv 2401.10020): the model writes
new prompts, answers them, judges its own answers, and is trained with DPO on its own
preferences; repeat.

Iteration k >= 1 (``iter_k/``), with the policy M_{k-1} (the base model for k = 1):

1. prompts (``prompts.jsonl``, marker ``prompts.json``): ``new_prompts`` writing requests,
   each showing ``fewshot`` seed prompts (a pure function of (seed, k, index)); a reply
   becomes a prompt once cleaned (label and trailing tasks cut) unless it is empty, too
   short or long, or repeats a seed or an earlier prompt (the reason is counted);
2. responses and judgements (``judged.jsonl``, marker ``judge.json``): ``n`` responses per
   prompt, each judged by the same policy on the additive 5-point rubric (``verigen.judge``);
   unparseable judgements are counted and give no score;
3. pairs (``dpo.jsonl``, marker ``pairs.json``): per prompt, the highest- against the
   lowest-scored response; prompts whose scores tie or with fewer than two scores are
   dropped (counted);
4. training (``train/``, marker ``train/train.json``): DPO of M_{k-1} on the pairs into
   M_k (``verigen.train.train_dpo``); with no pair the policy stays M_{k-1}.

Every stage's marker is written after its files, so a killed loop resumes at the stage it
was in (a stage cut short is redone whole); ``iter_k/manifest.json`` holds the iteration's
lineage (policy sampled, model trained, checkpoint and its hash, data hashes, seeds,
counts) and ``loop.json`` links the iterations. The loop directory keeps its config in
``loop-config.json``; only ``iterations`` may change on resume.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from verigen.engine import NullProgress, ProgressSink
from verigen.errors import UsageError
from verigen.judge import JudgeConfig, JudgeItem, judge_responses, preference_pair
from verigen.loops._markers import read_marker, write_marker
from verigen.loops._selfreward_config import SelfRewardConfig, seed_prompts
from verigen.rundir import write_jsonl_atomic
from verigen.sampling.base import Sampler, SampleRequest
from verigen.train import file_sha256, train_dpo
from verigen.types import ChatMessage, JSONValue, SamplingParams

log = logging.getLogger(__name__)

LOOP_MANIFEST = "loop.json"
LOOP_CONFIG = "loop-config.json"
CHECKPOINT_BACKENDS = ("transformers", "vllm")
MIN_PROMPT_CHARS, MAX_PROMPT_CHARS = 10, 2000
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:new\s+)?(?:task|instruction|question|prompt)\s*\d*\s*:?\s*(?:\*\*)?\s*:?\s*", re.I)
_NEXT = re.compile(r"\n\s*(?:\*\*)?(?:task|instruction|question|prompt)\s*\d*\s*:", re.I)


def writing_prompt(examples: list[str]) -> str:
    """Few-shot: the seed prompts as numbered tasks, then the request for a new one."""
    shots = "\n\n".join(f"Task {i + 1}: {e}" for i, e in enumerate(examples))
    return ("Below are some tasks that users have given to an AI assistant.\n\n"
            f"{shots}\n\nWrite one new task of the same kind, different from all of these. "
            f"Reply with the new task only, as:\nTask {len(examples) + 1}: <the task>")


def clean_prompt(text: str) -> str:
    """A writing reply as a prompt: its leading label (``Task 5:``) and any further tasks cut."""
    body = _LABEL.sub("", text.strip(), count=1)
    return _NEXT.split(body, maxsplit=1)[0].strip()


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _rows(path: Path) -> list[dict[str, JSONValue]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class SelfRewardLoop:
    """One loop in one directory; ``run()`` does what is left of it."""

    def __init__(self, config: SelfRewardConfig, out: Path, progress: ProgressSink | None = None) -> None:
        if config.model.backend not in (*CHECKPOINT_BACKENDS, "fake"):
            raise UsageError(f"selfreward: backend {config.model.backend!r} cannot load a checkpoint folder as --model; "
                             f"use one of {', '.join(CHECKPOINT_BACKENDS)} (or fake for dry runs)")
        self.config = config
        self.out = out.resolve()
        self.progress = progress or NullProgress()
        self._sampler: tuple[str, Sampler] | None = None
        self._seeds: list[str] = []

    def run(self) -> dict[str, JSONValue]:
        """Every stage not yet finished; returns the loop manifest."""
        from verigen.engine import check_model
        from verigen.sampling.model_store import resolve_model

        self._check_dir()
        self._seeds = seed_prompts(self.config.selfreward)
        check_model(self.config.model)
        resolve_model(self.config.base_model)
        self.out.mkdir(parents=True, exist_ok=True)
        write_marker(self.out / LOOP_CONFIG, self._config_json())
        write_jsonl_atomic(self.out / "seed_prompts.jsonl", ({"prompt": p} for p in self._seeds))
        iterations: list[JSONValue] = []
        try:
            for k in range(1, self.config.selfreward.iterations + 1):
                iterations.append(self._iteration(k))
                self._loop_manifest(iterations, finished=False)
        finally:
            self._close()
        return self._loop_manifest(iterations, finished=True)

    def _check_dir(self) -> None:
        old = read_marker(self.out / LOOP_CONFIG)
        if old is None:
            if self.out.exists() and any(self.out.iterdir()):
                raise UsageError(f"--out {str(self.out)!r} is not empty and holds no selfreward loop; choose another --out")
            return
        new = self._config_json()
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                raise UsageError(f"--out {str(self.out)!r} holds a loop with another config ({key}: {old.get(key)!r} "
                                 f"there, {new.get(key)!r} now); only iterations may change on resume")

    def _config_json(self) -> dict[str, JSONValue]:
        data: dict[str, JSONValue] = json.loads(self.config.model_dump_json())
        section = data["selfreward"]
        if isinstance(section, dict):
            section.pop("iterations", None)  # a finished loop may be extended
        return data

    # -- policy and sampler ----------------------------------------------------------------

    def _dir(self, k: int) -> Path:
        return self.out / f"iter_{k}"

    def _policy_after(self, k: int) -> str:
        if k == 0:
            return self.config.base_model
        done = read_marker(self._dir(k) / "train" / "train.json")
        return str(done["checkpoint"]) if done is not None else self._policy_after(k - 1)

    def _sampler_for(self, policy: str) -> Sampler:
        from verigen.judge import open_judge

        name = policy if self.config.model.backend in CHECKPOINT_BACKENDS else self.config.model.name
        if self._sampler is not None and self._sampler[0] == name:
            return self._sampler[1]
        self._close()
        self._sampler = (name, open_judge(self.config.model, name))
        return self._sampler[1]

    def _close(self) -> None:
        if self._sampler is not None:
            self._sampler[1].close()
            self._sampler = None

    def _params(self, k: int, *, n: int, temperature: float, max_tokens: int) -> SamplingParams:
        s = self.config.selfreward
        return SamplingParams(n=n, temperature=temperature, top_p=s.top_p, max_tokens=max_tokens, seed=s.seed + k)

    # -- one iteration ----------------------------------------------------------------------

    def _iteration(self, k: int) -> dict[str, JSONValue]:
        policy = self._policy_after(k - 1)
        prompts = self._prompts(k, policy)
        judged = self._judge(k, policy)
        pairs = self._pairs(k)
        train = self._train(k, policy, pairs)
        s = self.config.selfreward
        manifest: dict[str, JSONValue] = {
            "iteration": k, "base_model": self.config.base_model, "policy_sampled": policy,
            "policy_judge": policy, "trained_from": policy if "checkpoint" in train else None,
            "policy_after": self._policy_after(k), "prompts": prompts, "judge": judged, "pairs": pairs, "train": train,
            "seeds": {"sampling": s.seed + k, "train": self.config.train.seed},
            "training_config": json.loads(self.config.train.model_dump_json()),
        }
        old = read_marker(self._dir(k) / "manifest.json")
        same = old is not None and {a: b for a, b in old.items() if a != "finished"} == manifest
        manifest["finished"] = old.get("finished") if same and old else datetime.now(UTC).isoformat()
        write_marker(self._dir(k) / "manifest.json", manifest)
        return manifest

    def _earlier_prompts(self, k: int) -> list[str]:
        out: list[str] = []
        for j in range(1, k):
            path = self._dir(j) / "prompts.jsonl"
            out += [str(r["prompt"]) for r in _rows(path)] if path.exists() else []
        return out

    def _prompts(self, k: int, policy: str) -> dict[str, JSONValue]:
        marker = self._dir(k) / "prompts.json"
        done = read_marker(marker)
        if done is not None:
            return done
        s = self.config.selfreward
        sampler = self._sampler_for(policy)
        requests = []
        for i in range(s.new_prompts):
            rng = random.Random(f"selfreward:{s.seed}:{k}:{i}")
            shots = rng.sample(self._seeds, min(s.fewshot, len(self._seeds)))
            requests.append(SampleRequest(problem_id=f"selfreward/i{k}/write/{i}", indices=(0,),
                                          messages=(ChatMessage(role="user", content=writing_prompt(shots)),)))
        self.progress.stage(f"writing prompts (iteration {k})", len(requests))
        replies: dict[str, str] = {}
        params = self._params(k, n=1, temperature=s.write_temperature, max_tokens=s.write_max_tokens)
        for o in sampler.stream(requests, params):
            replies[o.problem_id] = o.completion.text
            self.progress.advance(f"writing prompts (iteration {k})")
        seen = {_norm(p) for p in [*self._seeds, *self._earlier_prompts(k)]}
        kept: list[dict[str, JSONValue]] = []
        dropped: Counter[str] = Counter()
        for i, r in enumerate(requests):
            text = clean_prompt(replies.get(r.problem_id, ""))
            why = ("empty" if not text else "too short" if len(text) < MIN_PROMPT_CHARS
                   else "too long" if len(text) > MAX_PROMPT_CHARS else "duplicate" if _norm(text) in seen else None)
            if why:
                dropped[why] += 1
                continue
            seen.add(_norm(text))
            kept.append({"id": f"selfreward/i{k}/{i}", "prompt": text, "raw": replies.get(r.problem_id, "")})
        path = self._dir(k) / "prompts.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(path, kept)
        result: dict[str, JSONValue] = {"file": str(path), "requested": s.new_prompts, "kept": len(kept),
                                        "dropped": dict(sorted(dropped.items())), "sha256": file_sha256(path)}
        write_marker(marker, result)
        return result

    def _judge(self, k: int, policy: str) -> dict[str, JSONValue]:
        marker = self._dir(k) / "judge.json"
        done = read_marker(marker)
        if done is not None:
            return done
        s = self.config.selfreward
        prompts = _rows(self._dir(k) / "prompts.jsonl")
        texts: dict[tuple[str, int], str] = {}
        if prompts:
            sampler = self._sampler_for(policy)
            asks = [SampleRequest(problem_id=str(p["id"]), indices=tuple(range(s.n)),
                                  messages=(ChatMessage(role="user", content=str(p["prompt"])),)) for p in prompts]
            self.progress.stage(f"responses (iteration {k})", len(asks) * s.n)
            for o in sampler.stream(asks, self._params(k, n=s.n, temperature=s.temperature, max_tokens=s.max_tokens)):
                texts[(o.problem_id, o.index)] = o.completion.text
                self.progress.advance(f"responses (iteration {k})")
        items = [JudgeItem(key=str(p["id"]), index=i, instruction=str(p["prompt"]), response=texts[(str(p["id"]), i)])
                 for p in prompts for i in range(s.n)]
        cfg = JudgeConfig(samples=s.judge_samples, temperature=s.judge_temperature, top_p=s.top_p,
                          max_tokens=s.judge_max_tokens, seed=s.seed + k)
        self.progress.stage(f"judging (iteration {k})", 1)
        scores = judge_responses(self._sampler_for(policy), items, cfg) if items else []
        self.progress.advance(f"judging (iteration {k})")
        by_id = {(sc.key, sc.index): sc for sc in scores}
        rows = [{"id": p["id"], "prompt": p["prompt"], "responses": [
            {"index": i, "text": texts[(str(p["id"]), i)], "score": by_id[(str(p["id"]), i)].score,
             "judgements": [j.to_json() for j in by_id[(str(p["id"]), i)].judgements]} for i in range(s.n)]}
            for p in prompts]
        path = self._dir(k) / "judged.jsonl"
        write_jsonl_atomic(path, rows)
        reasons = Counter(j.reason for sc in scores for j in sc.judgements if j.score is None)
        hist = Counter("none" if sc.score is None else f"{sc.score:g}" for sc in scores)
        result: dict[str, JSONValue] = {
            "file": str(path), "responses": len(items), "judgements": sum(len(sc.judgements) for sc in scores),
            "unparseable_judgements": sum(sc.unparseable for sc in scores),
            "unscored_responses": sum(sc.score is None for sc in scores),
            "unparseable_reasons": dict(sorted(reasons.items())), "score_histogram": dict(sorted(hist.items())),
            "config": cfg.to_json(), "sha256": file_sha256(path),
        }
        write_marker(marker, result)
        return result

    def _pairs(self, k: int) -> dict[str, JSONValue]:
        marker = self._dir(k) / "pairs.json"
        done = read_marker(marker)
        if done is not None:
            return done
        pairs: list[dict[str, JSONValue]] = []
        ties = few = 0
        for row in _rows(self._dir(k) / "judged.jsonl"):
            responses = row["responses"]
            if not isinstance(responses, list):
                continue
            scores = [r["score"] if isinstance(r, dict) and isinstance(r["score"], (int, float)) else None
                      for r in responses]
            pick = preference_pair(scores)
            if pick is None:
                few += sum(s is not None for s in scores) < 2
                ties += sum(s is not None for s in scores) >= 2
                continue
            chosen, rejected = responses[pick[0]], responses[pick[1]]
            if not isinstance(chosen, dict) or not isinstance(rejected, dict):
                continue
            pairs.append({
                "prompt": [{"role": "user", "content": row["prompt"]}],
                "chosen": [{"role": "assistant", "content": chosen["text"]}],
                "rejected": [{"role": "assistant", "content": rejected["text"]}],
                "provenance": {"source": "selfreward", "iteration": k, "prompt_id": row["id"],
                               "chosen_score": scores[pick[0]], "rejected_score": scores[pick[1]],
                               "chosen_index": pick[0], "rejected_index": pick[1], "judge": "rubric-5pt"},
            })
        path = self._dir(k) / "dpo.jsonl"
        write_jsonl_atomic(path, pairs)
        result: dict[str, JSONValue] = {"file": str(path), "pairs": len(pairs), "dropped_ties": ties,
                                        "dropped_fewer_than_two_scores": few, "sha256": file_sha256(path)}
        write_marker(marker, result)
        return result

    def _train(self, k: int, policy: str, pairs: dict[str, JSONValue]) -> dict[str, JSONValue]:
        if not pairs.get("pairs"):
            log.warning("iteration %d: no preference pair; the policy stays as it was", k)
            return {"skipped": "no preference pair (every prompt tied or had fewer than two scores)"}
        self._close()  # frees the policy's memory before training
        self.progress.stage(f"DPO (iteration {k})", 1)
        result = train_dpo(Path(str(pairs["file"])), policy, self._dir(k) / "train", self.config.train)
        self.progress.advance(f"DPO (iteration {k})")
        return result.to_json()

    def _loop_manifest(self, iterations: list[JSONValue], *, finished: bool) -> dict[str, JSONValue]:
        links: list[JSONValue] = []
        for it in iterations:
            if isinstance(it, dict):
                train = it.get("train")
                links.append({"iteration": it.get("iteration"), "manifest": str(self._dir(int(str(it["iteration"]))) /
                                                                                  "manifest.json"),
                              "policy_sampled": it.get("policy_sampled"), "policy_after": it.get("policy_after"),
                              "checkpoint": train.get("checkpoint") if isinstance(train, dict) else None,
                              "checkpoint_sha256": train.get("checkpoint_sha256") if isinstance(train, dict) else None})
        manifest: dict[str, JSONValue] = {
            "method": "Self-Rewarding Language Models (Yuan et al. 2024, arXiv 2401.10020)",
            "base_model": self.config.base_model, "seed_prompts": len(self._seeds),
            "seed_prompts_sha256": file_sha256(self.out / "seed_prompts.jsonl"),
            "iterations": links, "finished": finished, "updated": datetime.now(UTC).isoformat(),
            "config": json.loads(self.config.model_dump_json()),
        }
        write_marker(self.out / LOOP_MANIFEST, manifest)
        return manifest

"""``verigen selfplay``: rounds of model-written puzzles, admitted only with proof.

Each round: ``puzzles`` few-shot prompts (examples drawn from the seed task's train
puzzles, a pure function of (seed, round, index)) -> one puzzle each -> screening (parse,
type, probes in the sandbox) -> ``attempts`` solutions per screened puzzle, prompted and
verified by the seed task itself (its prompt, its ``PuzzleVerifier``) -> near-duplicates
(of each other, of earlier rounds, of the seed task's test puzzles) dropped.

Output directory (each file replaced atomically after every round; ``rounds.jsonl`` last):

- ``p3/puzzles.json`` + ``p3/split.json``: the kept puzzles in P3's layout, every family
  in ``train`` (``verigen generate --task p3 --data-dir DIR --split train``);
- ``sft.jsonl``: (puzzle prompt, verified solution) chat pairs with provenance;
- ``unverified.jsonl``: every solution attempt of every screened puzzle, whether or not it
  passes, and ``sft_unverified.jsonl``: as many of them as ``sft.jsonl`` has rows (a seeded
  sample): the paper's no-verifier ablation, to fine-tune on the same way;
- ``rounds.jsonl``: per round, puzzles generated / parsed / non_trivial / solved / kept / errors;
- ``puzzles.jsonl``: every generated puzzle with its status, stage and reason;
- ``selfplay.json``: the settings (model, seed task, every option but ``rounds``).

Resumable by round: the same command on the same folder continues after the last round in
``rounds.jsonl`` (what a killed round had written is dropped and the round is run again),
and a larger ``--rounds`` extends a finished run; other settings are refused.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from verigen.errors import UsageError
from verigen.sampling.base import Sampler, generate_all
from verigen.selfplay._admit import AdmissionConfig, PuzzleAdmission, PuzzleVerdict
from verigen.selfplay._dedup import NearDuplicates, fingerprint
from verigen.selfplay._parse import solution_body
from verigen.task import Task, TaskContext, create_task
from verigen.types import ChatMessage, GenerationRequest, JSONValue, Problem, SamplingParams
from verigen.verify._code_exec import extract_code
from verigen.verify.pool import VerifyPool
from verigen.verify.puzzle import Puzzle

__all__ = ["RoundCounts", "SelfPlayConfig", "check_out", "run_selfplay", "selfplay_settings", "writing_prompt"]

SETTINGS_FILE = "selfplay.json"
MAX_EXAMPLE_CHARS = 400  # few-shot examples: sat sources up to this long
CODE_INSTRUCTION = "Answer with the code in a single ```python code block."


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfPlayConfig:
    rounds: int
    puzzles: int  # puzzle-writing prompts per round (one puzzle each)
    attempts: int  # solutions sampled per screened puzzle
    fewshot: int = 3
    seed: int = 0
    write_params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.8, max_tokens=256))
    solve_params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.8, max_tokens=512))
    admission: AdmissionConfig = field(default_factory=AdmissionConfig)
    dedup_threshold: float = 0.75

    def __post_init__(self) -> None:
        for key in ("rounds", "puzzles", "attempts", "fewshot"):
            if getattr(self, key) < 1:
                raise UsageError(f"selfplay: --{key} must be at least 1, got {getattr(self, key)}")
        if not 0.0 < self.dedup_threshold <= 1.0:
            raise UsageError(f"selfplay: dedup threshold must be in (0, 1], got {self.dedup_threshold}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundCounts:
    round: int
    generated: int
    parsed: int  # parse and type checks passed
    non_trivial: int  # ran on the probes, none satisfied it, not constant
    solved: int  # a solution verified
    kept: int  # solved and no near-duplicate
    errors: int  # infrastructure faults (neither kept nor dropped)

    def to_json(self) -> dict[str, JSONValue]:
        return {"round": self.round, "generated": self.generated, "parsed": self.parsed,
                "non_trivial": self.non_trivial, "solved": self.solved, "kept": self.kept,
                "errors": self.errors}


def writing_prompt(examples: Sequence[Puzzle]) -> str:
    """Few-shot: the examples' ``sat`` functions, then the request for a new one."""
    shots = "\n\n".join(f"Puzzle {i + 1}:\n```python\n{p.sat.strip()}\n```" for i, p in enumerate(examples))
    return (
        "Here are Python programming puzzles. A puzzle is a function `sat` whose first "
        "argument is the answer, with a type annotation (int, float, bool, str, List[...] or "
        "Dict[str, ...]); a solution is a value of that type that makes `sat` return True.\n\n"
        f"{shots}\n\nWrite one new puzzle, different from these: a single function `sat` "
        "whose first argument has one of those types (for example `def sat(li: List[int], n=5):`; "
        "further arguments need default values), that some value makes True, but no trivial guess does. "
        + CODE_INSTRUCTION
    )


def _puzzles(task: Task[object], split: str) -> list[Puzzle]:
    return [p.reference for p in task.problems(split=split, seed=0) if isinstance(p.reference, Puzzle)]


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonl(rows: Sequence[dict[str, JSONValue]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


@dataclass(slots=True)
class _State:
    kept: list[Puzzle] = field(default_factory=list)
    sft: list[dict[str, JSONValue]] = field(default_factory=list)
    unverified: list[dict[str, JSONValue]] = field(default_factory=list)
    log: list[dict[str, JSONValue]] = field(default_factory=list)
    rounds: list[RoundCounts] = field(default_factory=list)

    def ablation(self, seed: int) -> list[dict[str, JSONValue]]:
        """``len(sft)`` unverified pairs, a seeded sample (all of them when there are fewer)."""
        if len(self.unverified) <= len(self.sft):
            return list(self.unverified)
        picked = sorted(random.Random(f"selfplay-ablation:{seed}").sample(range(len(self.unverified)), len(self.sft)))
        return [self.unverified[i] for i in picked]

    def write(self, out: Path, seed: int = 0) -> None:
        puzzles = [p.to_json() for p in self.kept]
        _atomic_write(out / "p3" / "puzzles.json", json.dumps(puzzles, indent=1, ensure_ascii=False) + "\n")
        families = [p.name.split(":", 1)[0] for p in self.kept]
        _atomic_write(out / "p3" / "split.json", json.dumps({"train": families, "test": []}) + "\n")
        _atomic_write(out / "sft.jsonl", _jsonl(self.sft))
        _atomic_write(out / "unverified.jsonl", _jsonl(self.unverified))
        _atomic_write(out / "sft_unverified.jsonl", _jsonl(self.ablation(seed)))
        _atomic_write(out / "puzzles.jsonl", _jsonl(self.log))
        # Last: a round is done once rounds.jsonl lists it (a resume trusts nothing beyond).
        _atomic_write(out / "rounds.jsonl", _jsonl([r.to_json() for r in self.rounds]))


def selfplay_settings(config: SelfPlayConfig, seed_task: Task[object], model: str | None) -> dict[str, JSONValue]:
    """What a run's output depends on (``selfplay.json``): every option but ``rounds`` (a
    run may be extended) and the admission's worker count (speed only). ``model``: the
    sampler's model id (None: not compared, as before the model loads)."""
    options = asdict(config)
    options.pop("rounds")
    options["admission"].pop("workers")
    data = {"seed_task": seed_task.name, "seed_data": None if seed_task.ctx.data_dir is None else str(seed_task.ctx.data_dir),
            "options": options, "model": model}
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]


def check_out(out: Path, settings: dict[str, JSONValue] | None = None) -> bool:
    """``out`` must be new, an empty folder, or an earlier selfplay run with the same
    ``settings`` (then True: it is resumed); nothing is overwritten otherwise."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return False
    saved_path = out / SETTINGS_FILE
    if not out.is_dir() or not saved_path.is_file():
        raise UsageError(f"selfplay: --out {str(out)!r} exists and is not an empty folder nor a selfplay run "
                         "(nothing is overwritten)")
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"selfplay: cannot read {str(saved_path)!r}: {exc}") from None
    if not isinstance(saved, dict):
        raise UsageError(f"selfplay: {str(saved_path)!r} is not a JSON object of settings")
    if settings is not None:
        keys = [k for k in settings if not (k == "model" and settings[k] is None)]
        differ = [k for k in keys if saved.get(k) != settings[k]]
        if differ:
            raise UsageError(f"selfplay: --out {str(out)!r} holds a run with other settings ({', '.join(differ)}: "
                             f"{saved.get(differ[0])!r} there, {settings[differ[0]]!r} now); use a new --out")
    return True


def _round_of(name: object) -> int:
    """The round of a puzzle named ``SelfPlay_r{round}_{index}:0``."""
    text = str(name)
    try:
        return int(text.split("_r", 1)[1].split("_", 1)[0])
    except (IndexError, ValueError):
        raise UsageError(f"selfplay: unexpected puzzle name {text!r} in the output folder") from None


def _read_jsonl(path: Path) -> list[dict[str, JSONValue]]:
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row, dict):
                raise UsageError(f"selfplay: {str(path)!r} line {n} is not a JSON object")
            rows.append(row)
    return rows


def _resumed(out: Path, index: NearDuplicates) -> _State:
    """The state after the last round ``rounds.jsonl`` records; whatever a killed round
    wrote beyond it is dropped. Kept puzzles go back into the near-duplicate index."""
    try:
        rounds = [RoundCounts(**row) for row in _read_jsonl(out / "rounds.jsonl")]  # type: ignore[arg-type]
        done = len(rounds)
        if [c.round for c in rounds] != list(range(done)):
            raise UsageError(f"selfplay: {str(out / 'rounds.jsonl')!r} does not list rounds 0..{done - 1} in order")
        raw = json.loads((out / "p3" / "puzzles.json").read_text(encoding="utf-8")) if done else []
        kept = [Puzzle.from_json(p) for p in raw if _round_of(p.get("name")) < done]
        sft, unverified = ([r for r in _read_jsonl(out / name)
                            if isinstance(r.get("provenance"), dict) and int(r["provenance"].get("round", done)) < done]  # type: ignore[union-attr, arg-type]
                           for name in ("sft.jsonl", "unverified.jsonl"))
        log = [r for r in _read_jsonl(out / "puzzles.jsonl") if int(r.get("round", done)) < done]  # type: ignore[arg-type]
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise UsageError(f"selfplay: cannot resume from {str(out)!r}: {exc}") from None
    for puzzle in kept:
        fp = fingerprint(puzzle.sat)
        if fp is not None:
            index.add(puzzle.name, fp)
    return _State(kept=kept, sft=sft, unverified=unverified, log=log, rounds=rounds)


def run_selfplay(*, sampler: Sampler, seed_task: Task[object], out: Path, config: SelfPlayConfig,
                 progress: Callable[[str], None] | None = None, pool: VerifyPool | None = None) -> list[RoundCounts]:
    """All rounds; returns their counts (also in ``out/rounds.jsonl``). ``out`` must be new,
    empty, or an earlier run with the same settings (resumed after its last round).
    ``progress`` gets one line per stage of each round. ``pool``: an open pool of a
    ``PuzzleVerifierSpec``'s verifier that checks the solutions (a session's: local or on Ray
    actors; left open), else the admission's own, one per round. Screening (``sat`` on the
    probes) runs here, in this process's sandbox."""
    settings = selfplay_settings(config, seed_task, sampler.model_id)
    resume = check_out(out, settings)
    every = _puzzles(seed_task, "train")
    # Short examples keep prompts small; a seed set of long puzzles only is used as it is.
    train = [p for p in every if len(p.sat) <= MAX_EXAMPLE_CHARS] or every
    if not train:
        raise UsageError(f"selfplay: seed task {seed_task.name!r} has no puzzles in its train split")
    index = NearDuplicates(threshold=config.dedup_threshold)
    for p in _puzzles(seed_task, "test") if "test" in seed_task.splits else []:
        fp = fingerprint(p.sat)
        if fp is not None:
            index.add(f"{seed_task.name} test puzzle {p.name}", fp)
    state = _resumed(out, index) if resume else _State()
    if not resume:
        _atomic_write(out / SETTINGS_FILE, json.dumps(settings, indent=1) + "\n")
    elif progress is not None and state.rounds:
        progress(f"resuming after round {len(state.rounds) - 1} of {str(out)!r}")
    if len(state.rounds) >= config.rounds:
        return state.rounds[: config.rounds]
    admission = PuzzleAdmission(sandbox=seed_task.ctx.sandbox, config=config.admission)
    try:
        for r in range(len(state.rounds), config.rounds):
            state.rounds.append(_round(r, sampler, seed_task, train, index, admission, state, out, config,
                                       progress or (lambda line: None), pool))
            state.write(out, config.seed)
    finally:
        admission.close()
    return state.rounds


def _round(r: int, sampler: Sampler, seed_task: Task[object], train: list[Puzzle], index: NearDuplicates,
           admission: PuzzleAdmission, state: _State, out: Path, config: SelfPlayConfig,
           progress: Callable[[str], None], pool: VerifyPool | None) -> RoundCounts:
    asks = []
    for i in range(config.puzzles):
        rng = random.Random(f"selfplay:{config.seed}:{r}:{i}")
        shots = rng.sample(train, min(config.fewshot, len(train)))
        asks.append(GenerationRequest(problem_id=f"selfplay/r{r}/write/{i}",
                                      messages=(ChatMessage(role="user", content=writing_prompt(shots)),)))
    progress(f"round {r}: writing {config.puzzles} puzzles")
    texts = [c[0].text for c in generate_all(sampler, asks, config.write_params)]
    names = [f"SelfPlay_r{r}_{i}:0" for i in range(config.puzzles)]
    screened = [admission.screen(name, text) for name, text in zip(names, texts, strict=True)]
    verdicts: dict[int, PuzzleVerdict] = {i: s.verdict for i, s in enumerate(screened) if s.verdict is not None}
    live = [i for i, s in enumerate(screened) if s.verdict is None and s.puzzle is not None]
    progress(f"round {r}: {len(live)} of {config.puzzles} passed screening; sampling {config.attempts} solutions each")
    problems = _solve_problems(seed_task, [screened[i].puzzle for i in live], out / "rounds" / f"r{r}")  # type: ignore[misc]
    if live:
        solve = replace(config.solve_params, n=config.attempts)
        asks2 = [GenerationRequest(problem_id=p.id, messages=seed_task.messages(p)) for p in problems]
        attempts = [[c.text for c in row] for row in generate_all(sampler, asks2, solve)]
        judged = admission.judge([p.reference for p in problems], attempts, pool)
        for problem, tries in zip(problems, attempts, strict=True):
            _unverified(problem, tries, seed_task, sampler, state, r)
        for i, problem, verdict in zip(live, problems, judged, strict=True):
            verdicts[i] = _dedup(verdict, index)
            if verdicts[i].status == "keep":
                _keep(verdicts[i], problem, seed_task, sampler, state, r)
    for i, text in enumerate(texts):
        state.log.append({"round": r, "index": i, "text": text, **verdicts[i].to_json()})
    rows = [verdicts[i] for i in range(config.puzzles)]
    return RoundCounts(
        round=r, generated=len(rows),
        parsed=sum(v.stage not in ("parse", "type") for v in rows),
        non_trivial=sum(v.stage in ("solve", "duplicate") for v in rows),
        solved=sum(v.stage == "duplicate" or (v.stage == "solve" and v.status == "keep") for v in rows),
        kept=sum(v.status == "keep" for v in rows), errors=sum(v.status == "error" for v in rows),
    )


def _solve_problems(seed_task: Task[object], puzzles: list[Puzzle], folder: Path) -> list[Problem[Any]]:
    """The screened puzzles as the seed task's own problems (its prompt and verifier), read
    back from a P3-layout folder, so what is solved is exactly what the dataset will hold."""
    if not puzzles:
        return []
    _atomic_write(folder / "p3" / "puzzles.json", json.dumps([p.to_json() for p in puzzles], indent=1) + "\n")
    families = [p.name.split(":", 1)[0] for p in puzzles]
    _atomic_write(folder / "p3" / "split.json", json.dumps({"train": families, "test": []}) + "\n")
    task = create_task(seed_task.name, {}, TaskContext(data_dir=folder, sandbox=seed_task.ctx.sandbox))
    problems = list(_served(task))
    if [p.reference.name for p in problems] != [p.name for p in puzzles]:
        raise UsageError(f"selfplay: seed task {seed_task.name!r} does not serve P3-layout puzzles from --data-dir")
    return problems


def _served(task: Task[object]) -> Iterator[Problem[Any]]:
    for p in task.problems(split="train", seed=0):
        if isinstance(p.reference, Puzzle):
            yield p


def _dedup(verdict: PuzzleVerdict, index: NearDuplicates) -> PuzzleVerdict:
    if verdict.status != "keep" or verdict.puzzle is None:
        return verdict
    fp = fingerprint(verdict.puzzle.sat)
    if fp is None:
        return PuzzleVerdict(status="drop", stage="parse", reason="sat does not parse", puzzle=verdict.puzzle)
    hit = index.match(fp)
    if hit is not None:
        return PuzzleVerdict(status="drop", stage="duplicate", reason=f"near-duplicate of {hit[0]} (overlap {hit[1]:.2f})",
                             puzzle=verdict.puzzle, attempts=verdict.attempts, accepted=verdict.accepted)
    index.add(verdict.puzzle.name, fp)
    return verdict


def _unverified(problem: Problem[Any], texts: Sequence[str], seed_task: Task[object], sampler: Sampler,
                state: _State, r: int) -> None:
    """Every attempt at a screened puzzle as a training pair, verified or not (the ablation):
    a solution written as ``sol()`` in the layout the verified pairs use, else as written."""
    puzzle = problem.reference
    if not isinstance(puzzle, Puzzle):
        return
    prompt = [m.to_json() for m in seed_task.messages(problem)]
    for j, text in enumerate(texts):
        code = extract_code(text)
        body = solution_body(code) if code is not None else None
        program = replace(puzzle, sol_bodies=(body,)).reference(0) if body else None
        content = "```python\n" + program.rstrip("\n") + "\n```" if program else text
        state.unverified.append({
            "messages": [*prompt, {"role": "assistant", "content": content}],  # type: ignore[list-item]
            "provenance": {"task": seed_task.name, "source": "selfplay-unverified", "round": r,
                           "puzzle": puzzle.name, "attempt": j, "model": sampler.model_id, "verifier": None},
        })


def _keep(verdict: PuzzleVerdict, problem: Problem[Any], seed_task: Task[object], sampler: Sampler,
          state: _State, r: int) -> None:
    if verdict.puzzle is None:
        return
    puzzle = replace(verdict.puzzle, sol_bodies=verdict.bodies)
    state.kept.append(puzzle)
    prompt = [m.to_json() for m in seed_task.messages(problem)]
    for k in range(len(puzzle.sol_bodies)):
        solution = "```python\n" + (puzzle.reference(k) or "").rstrip("\n") + "\n```"
        state.sft.append({
            "messages": [*prompt, {"role": "assistant", "content": solution}],  # type: ignore[list-item]
            "provenance": {"task": seed_task.name, "source": "selfplay", "round": r, "puzzle": puzzle.name,
                           "model": sampler.model_id, "verifier": "puzzle.sat", "verdict": "accepted"},
        })

"""Task ``word_reverse``: write a word backwards, judged by the plugin's own verifier."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from verigen.task import Task, TaskArgs
from verigen.types import JSONValue, Outcome, Problem, Verdict

WORDS = ("verifier", "sandbox", "tokenizer", "gradient", "sampling", "plugin", "dataset", "entropy")


@dataclass(frozen=True, slots=True, kw_only=True)
class Word:
    text: str

    def to_json(self) -> JSONValue:
        return {"word": self.text}


class ReverseVerifier:
    """ACCEPTED when the completion's last non-blank line is the word reversed."""

    name = "reverse.exact"
    version = "7"
    needs_process_isolation = True  # exercised through verigen's killable worker processes
    time_limit_s = 5.0

    def verify(self, problem: Problem[Word], completion: str) -> Verdict:
        lines = [line.strip() for line in completion.splitlines() if line.strip()]
        if not lines:
            return Verdict(outcome=Outcome.NO_ANSWER, detail="empty", verifier=self.name, verifier_version=self.version)
        ok = lines[-1] == problem.reference.text[::-1]
        return Verdict(outcome=Outcome.ACCEPTED if ok else Outcome.REJECTED, answer=lines[-1],
                       detail="reversed" if ok else "not the word reversed", verifier=self.name,
                       verifier_version=self.version)

    def close(self) -> None:
        return None


class WordReverseArgs(TaskArgs):
    count: int = 4


class WordReverse(Task[Word]):
    name = "word_reverse"
    family = "math"
    description = "Write a word backwards (test plugin with its own verifier)"
    Args = WordReverseArgs

    def problems(self, *, split: str, seed: int) -> Iterator[Problem[Word]]:
        self.check_split(split)
        count = self.args.count if isinstance(self.args, WordReverseArgs) else 4
        for index in range(count):
            rng = random.Random(f"{self.name}/{split}:{seed}:{index}")
            word = rng.choice(WORDS) + str(rng.randint(10, 99))
            yield Problem(id=f"{self.name}/{split}/{index}", task=self.name,
                          prompt=f"Write the word {word} backwards.", reference=Word(text=word))

    def verifier(self) -> ReverseVerifier:
        return ReverseVerifier()

    def reference_solution(self, problem: Problem[Word]) -> str | None:
        return problem.reference.text[::-1]

    def decode_reference(self, data: JSONValue) -> Word:
        if not isinstance(data, dict) or not isinstance(data.get("word"), str):
            raise ValueError(f"bad Word reference {data!r}")
        return Word(text=str(data["word"]))

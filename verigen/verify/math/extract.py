"""Find the final answer in a model completion (no SymPy, no parsing of the math).

Sources, in priority order: the last ``\\boxed{...}`` / ``\\fbox{...}``, a GSM8K ``#### 42``
line, "the (final) answer is X" / "Answer: X", else the last number or math segment on the
final line. Several *different* boxed answers are hedging and the verifier rejects them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from verigen.verify.math.normalize import normalize

Source = Literal["boxed", "hash", "answer_is", "final_line"]

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_HASH_RE = re.compile(r"^[ \t]*####[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_ANSWER_IS_RE = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*(?:is)?\s*[:=]|"
    r"(?<![a-z])answer\s*[:=])[ \t]*:?[ \t]*",
    re.IGNORECASE,
)
_MATH_SEG_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_NUMBER_RE = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?|-?\$?\.\d+%?")
_BOLD_RE = re.compile(r"\*\*|__")
_WORD_RE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")
_CONCLUSION_RE = re.compile(
    r"^\W*(?:so|therefore|thus|hence|finally|altogether|overall|in total|in all|"
    r"that means|this means|which means)\b",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"[.!](?:\*\*|\$|\)|\s)*$")
_EQUALS_VALUE_RE = re.compile(r"=\s*(-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?)(?![\d.,]*\s*[-+*/^=])")
# A short final line with no sentence in it is itself the answer ("Evelyn", "x^2+1").
_SHORT_ANSWER_MAX = 40
_BARE_MATH_MAX = 300
# Completions are cut before the scan: a pathological megabyte of text must stay cheap.
_MAX_SCAN = 200_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Extraction:
    """What ``extract_answer`` found: ``answer`` is None when nothing was extractable."""

    answer: str | None
    source: Source | None
    hedged: bool = False


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the balanced ``{...}`` opening at ``text[start]`` and the index after it."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "\\":
            continue
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def boxed_contents(text: str) -> list[str]:
    """Contents of every ``\\boxed{}``/``\\fbox{}`` with balanced braces, in order."""
    found: list[str] = []
    for match in _BOX_RE.finditer(text):
        got = _braced(text, match.end())
        if got is not None:
            found.append(got[0].strip())
    return found


def _hedge_key(answer: str) -> str:
    """A loose key under which two boxed answers count as the same answer."""
    key = re.sub(r"\\[,!;: ]|\s+|\$", "", answer)
    key = re.sub(r"\\[dt]frac", r"\\frac", key)
    key = re.sub(r"^[a-zA-Z]=", "", key)
    return key.rstrip(".")


def _strip_wrappers(answer: str) -> str:
    """Remove markdown bold, math delimiters and trailing sentence punctuation."""
    ans = _BOLD_RE.sub("", answer).strip()
    seg = _MATH_SEG_RE.search(ans)
    if seg is not None and ans.count("$") != 1:
        inner = next(g for g in seg.groups() if g is not None)
        ans = inner
    ans = ans.strip()
    # "!" ends a sentence after a word, but "5!" is a factorial.
    while ans and (ans[-1] in ".,;:" or (ans[-1] == "!" and ans[-2:-1].isalpha())):
        ans = ans[:-1].rstrip()
    return ans.strip()


def _from_answer_is(text: str) -> str | None:
    matches = list(_ANSWER_IS_RE.finditer(text))
    if not matches:
        return None
    # The LAST statement wins ("the answer is 5. Wait... the answer is 7." -> 7).
    rest = text[matches[-1].end() :].split("\n", 1)[0].strip()
    if not rest:
        return None
    seg = _MATH_SEG_RE.search(rest)
    if seg is not None:
        return next(g for g in seg.groups() if g is not None).strip()
    # A sentence ends at ". " (not a decimal point); keep only the first sentence.
    rest = re.split(r"\.(?:\s|$)", rest, maxsplit=1)[0]
    rest = _strip_wrappers(rest)
    return rest or None


def _prose_words(text: str) -> list[str]:
    """Words of two or more letters that are not LaTeX commands or environment names."""
    return _WORD_RE.findall(re.sub(r"\\(?:begin|end)\{\w+\}", "", text))


def _from_final_line(text: str) -> str | None:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    segs = list(_MATH_SEG_RE.finditer(last))
    # Two prose words or fewer around the math ("Thus $x=5$."): the math is the answer.
    if segs and len(_prose_words(_MATH_SEG_RE.sub(" ", last))) <= 2:
        inner = next(g for g in segs[-1].groups() if g is not None)
        return inner.strip() or None
    if not segs:
        bare = _strip_wrappers(last)
        words = len(_prose_words(bare))
        if (words <= 1 and len(bare) <= _SHORT_ANSWER_MAX) or (
            words == 0 and len(bare) <= _BARE_MATH_MAX
        ):
            return bare or None
        # "288\pi \text{ cubic units}": a bare answer once unit words are gone.
        if len(bare) <= _BARE_MATH_MAX and not _prose_words(normalize(bare).text):
            return bare
        if words == 0:  # a long run of bare math: its last number (size caps apply later)
            numbers = _NUMBER_RE.findall(last)
            return numbers[-1] if numbers else None
    return _from_sentence(last)


def _from_sentence(line: str) -> str | None:
    """The value a concluding prose sentence states, or None when it states none clearly.

    Prose that merely mentions numbers ("the divisors of $284$ sum to $66$ but ...") must
    not yield an answer: the last number of such a line is a guess, and a guess that
    happens to equal a number of the problem statement would be a false accept.
    """
    values: list[str] = [
        next(g for g in m.groups() if g is not None).strip()
        for m in _MATH_SEG_RE.finditer(line)
    ] or _NUMBER_RE.findall(line)
    if not values:
        return None
    # A cut-off line ("Multiply this by 240 to") states nothing, whatever numbers it holds.
    if not (_SENTENCE_END_RE.search(line) or line.rstrip().endswith(values[-1])):
        return None
    if _CONCLUSION_RE.match(line):  # "So she keeps 14 apples."
        return values[-1]
    equals: list[str] = _EQUALS_VALUE_RE.findall(
        _MATH_SEG_RE.sub(lambda m: m.group(0).strip("$"), line)
    )
    if equals:  # "... 48 + 24 = 72 clips altogether."
        return equals[-1]
    return values[0] if len(values) == 1 else None  # "Weng earned $10."


def extract_answer(text: str) -> Extraction:
    """The final answer of a completion and how it was found.

    ``hedged`` is True when several different boxed answers appear; ``answer`` is then
    the last one, but the verifier rejects the completion.
    """
    text = text[-_MAX_SCAN:]
    all_boxes = boxed_contents(text)
    boxes = [b for b in all_boxes if b]
    if all_boxes and not boxes:
        return Extraction(answer=None, source=None)  # "\boxed{}": the model gave no answer
    if boxes:
        hedged = len({_hedge_key(b) for b in boxes}) > 1
        return Extraction(answer=boxes[-1], source="boxed", hedged=hedged)
    hashes = _HASH_RE.findall(text)
    if hashes:
        answer: str | None = _strip_wrappers(hashes[-1])
        if answer:
            return Extraction(answer=answer, source="hash")
    answer = _from_answer_is(text)
    if answer:
        return Extraction(answer=answer, source="answer_is")
    answer = _from_final_line(text)
    if answer:
        return Extraction(answer=answer, source="final_line")
    return Extraction(answer=None, source=None)

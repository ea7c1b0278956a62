"""Find the final answer in a model completion (no SymPy, no parsing of the math).

Explicit statements, in text order: ``\\boxed{}`` / ``\\fbox{}``, ``#### X`` (at the start
or the end of a line), and answer prefixes ("the (final) answer is", "Answer:", GSM8K's
``A: 18``, Minerva's ``Final Answer: The final answer is X. I hope it is correct.``,
PRM800K's ``# Answer`` heading with the answer on the next line). Without any, the last
line, when it states a value (``_prose.from_final_line``).

Fenced code, comments and chat turns the model invented after its answer are not read.
Which statement is *the* answer is decided by the verifier, which can compare statements
by value: the last one wins, several boxes are parts of one answer only when the
reference has several, and a later statement that differs from a box or ``####`` is
hedging. ``retracted`` / ``denied`` / ``reconsidered`` report what follows the last
statement: a withdrawal, values said not to be the answer, a value restated after "Wait".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from verigen.verify.math import _prose
from verigen.verify.math._text import (
    currency_dollars,
    cut_continuation,
    join_display_math,
    mask_code,
    unbold,
    undouble_backslashes,
)

Source = Literal["boxed", "hash", "answer_is", "final_line"]

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])\s*")
_BARE_BOX_RE = re.compile(r"([^\s${}]+)")
_PLACEHOLDER_RE = re.compile(r"\s*(?:\\phantom\{[^{}]*\}|\\(?:square|Box|quad|qquad)|\?+|_+|\.\.\.)\s*")
_HASH_RE = re.compile(r"####[ \t]*([^\n]*)")
_PREFIX_RE = re.compile(
    r"(?:the\s+)?(?:final\s+)?answer(?:\s+to\s+(?:this|the|our)\s+(?:question|problem))?\s+"
    r"(?:is|would\s+be|will\s+be|should\s+be)\b[ \t]*:?[ \t]*"
    r"|final\s+answer\s*(?:is\b)?[ \t]*[:=][ \t]*"
    r"|(?<![a-z])answer[ \t]*[:=][ \t]*",
    re.IGNORECASE,
)
# A heading that announces the answer on the next line: "# Answer", "**Final Answer**".
_HEADING_RE = re.compile(r"^[ \t#]*(?:final[ \t]+)?answer[ \t]*:?[ \t]*$", re.IGNORECASE | re.MULTILINE)
_GSM_A_RE = re.compile(r"^[ \t]*A[ \t]*:[ \t]*(?=\S)", re.MULTILINE)
_CHOICE_LINE_RE = re.compile(r"^[ \t]*\(?[B-E]\)?[ \t]*[:.)]", re.MULTILINE)
_NEGATED_VALUE_RE = re.compile(
    r"\b(?:is not|isn't|cannot be|can't be|could not be|couldn't be|is never|not equal to)\s+"
    r"(\$[^$\n]+\$|\\\(.+?\\\)|-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?)",
    re.IGNORECASE,
)
_HEADING_START_RE = re.compile(
    r"^\W*(?:step|part|case|solution|problem|question|method|approach|explanation|verification|"
    r"conclusion|summary|final|answer|calculation|given|find|solve|note|check)\b",
    re.IGNORECASE,
)
# Completions are cut before the scan: a pathological megabyte of text must stay cheap.
_MAX_SCAN = 200_000
_PREVIEW = 5  # answer-like content of a "####" or "A:" line has at most this many words


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """One explicit answer statement: its kind, its text and where it ends."""

    kind: Literal["boxed", "hash", "answer_is"]
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Extraction:
    """What ``extract_answer`` found: ``answer`` is None when nothing was extractable.

    ``answer`` is the last statement (or the final line's value); ``statements`` are all
    explicit ones in order; ``hedged`` is True when the text itself withdraws its answer
    or boxes several different values (the verifier refines the latter by value).
    """

    answer: str | None
    source: Source | None
    hedged: bool = False
    statements: tuple[Statement, ...] = ()
    retracted: bool = False
    denied: tuple[str, ...] = ()
    reconsidered: str | None = None


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the balanced ``{...}`` opening at ``text[start]`` and the index after it."""
    if start >= len(text) or text[start] != "{":
        return None
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # an escaped character (\{ or \}) never opens or closes a group
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def _unbox(content: str) -> str:
    """``\\boxed{\\boxed{5}}`` is one box: the content of a box that is only a box."""
    for _ in range(10):
        match = _BOX_RE.match(content)
        got = _braced(content, match.end()) if match is not None else None
        if got is None or content[got[1] :].strip():
            return content
        content = got[0].strip()
    return content


def _boxes(view: str) -> list[Statement]:
    found: list[Statement] = []
    pos = 0
    while True:
        match = _BOX_RE.search(view, pos)
        if match is None:
            return found
        got = _braced(view, match.end())
        if got is None:
            bare = _BARE_BOX_RE.match(view, match.end()) if view[match.end() : match.end() + 1] != "{" else None
            if bare is None:
                pos = match.end()
                continue
            got = (bare.group(1), bare.end())
        content = _unbox(got[0].strip())
        if not _placeholder(content):  # "\boxed{\phantom{2}}", "\boxed{~}" in a restated problem
            found.append(Statement(kind="boxed", text=content, start=match.start(), end=got[1]))
        pos = got[1]  # a box inside this box is part of it


# Commands that are values themselves; any other command holds a value or holds nothing.
_SYMBOLS = (
    r"pi|infty|emptyset|varnothing|alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|iota|kappa|"
    r"lambda|mu|nu|xi|rho|sigma|tau|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Sigma|Phi|Psi|Omega"
)


def _placeholder(content: str) -> bool:
    """A box that holds no answer: spacing, a blank to fill in, escaped symbols."""
    if _PLACEHOLDER_RE.fullmatch(content):
        return True
    rest = re.sub(rf"\\(?!(?:{_SYMBOLS})(?![a-zA-Z]))[a-zA-Z]+|\\[,;:! ]", "", content)
    return not re.search(r"[A-Za-z0-9\\]", rest)


def boxed_contents(text: str) -> list[str]:
    """Contents of every top-level ``\\boxed{}``/``\\fbox{}`` with balanced braces, in order."""
    return [s.text for s in _boxes(text)]


def _hedge_key(answer: str) -> str:
    """A loose key under which two boxed answers count as the same answer."""
    key = re.sub(r"\\[,!;: ]|\s+|\$", "", answer)
    key = re.sub(r"\\[dtc]frac", r"\\frac", key)
    key = re.sub(r"^[a-zA-Z]=", "", key)
    return key.rstrip(".")


def _answer_like(content: str) -> bool:
    """Short and not a heading ("#### Step 2: ...", "A: Let's think")."""
    words = _prose.prose_words(_prose.MATH_SEG_RE.sub(" ", content))
    return len(words) <= _PREVIEW and _HEADING_START_RE.match(content) is None


def _hashes(view: str) -> list[Statement]:
    found = []
    for match in _HASH_RE.finditer(view):
        content = match.group(1).strip()
        line_start = view.rfind("\n", 0, match.start()) + 1
        heading = not view[line_start : match.start()].strip()
        if not re.search(r"\w", content) or "\\boxed" in content or (heading and not _answer_like(content)):
            continue  # "#### Step 2: ..." is a markdown heading
        value = _prose.stated_value(content)
        if value:
            found.append(Statement(kind="hash", text=value, start=match.start(), end=match.end()))
    return found


def _content_after(view: str, end: int) -> str:
    """The rest of the line after ``end``; when empty, the next non-empty line (within two)."""
    line_end = view.find("\n", end)
    rest = view[end : line_end if line_end >= 0 else len(view)]
    if rest.strip() or line_end < 0:
        return rest
    following = [ln for ln in view[line_end + 1 :].split("\n", 3)[:3] if ln.strip()]
    return following[0] if following else ""


def _prefixes(view: str) -> tuple[list[Statement], list[int]]:
    """Prefix statements, and the positions of negated ones ("the answer is not 12")."""
    found: list[Statement] = []
    negated: list[int] = []
    matches = [(m.start(), m.end(), False) for m in _PREFIX_RE.finditer(view)]
    matches += [(m.start(), m.end(), False) for m in _HEADING_RE.finditer(view)]
    if not _CHOICE_LINE_RE.search(view):  # "A: 12 / B: 15" lists choices, it answers nothing
        matches += [(m.start(), m.end(), True) for m in _GSM_A_RE.finditer(view)]
    for start, end, gsm in sorted(matches):
        content = _content_after(view, end)
        if not content.strip() or "\\boxed" in content or "\\fbox" in content or "####" in content:
            continue
        value = _prose.stated_value(content)
        if value is None:
            if _prose.NEGATION_RE.search(_prose.first_sentence(content)):
                negated.append(start)
            continue
        if gsm and not _answer_like(value):
            continue  # "A: Let's think step by step": a restated prompt label
        found.append(Statement(kind="answer_is", text=value, start=start, end=end + len(content)))
    return found, negated


def prepare(text: str) -> tuple[str, str]:
    """(cleaned text, masked view of it with the same length)."""
    text = cut_continuation(undouble_backslashes(text[-_MAX_SCAN:]))
    return text, unbold(currency_dollars(join_display_math(mask_code(text))))


def _final_line(view: str) -> str | None:
    lines = [ln.strip() for ln in view.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    return _prose.from_final_line(last)


def extract_answer(text: str) -> Extraction:
    """The answer statements of a completion, the last one, and what follows it."""
    _, view = prepare(text)
    all_boxes = _boxes(view)
    boxes = [b for b in all_boxes if b.text]
    if all_boxes and not boxes:
        return Extraction(answer=None, source=None)  # "\boxed{}": the model gave no answer
    prefixes, negated = _prefixes(view)
    # A prefix that contains a box or a "####" line is that statement, not a second one.
    statements = sorted([*boxes, *_hashes(view), *prefixes], key=lambda s: s.start)
    if not statements:
        if _BOX_RE.search(view):
            return Extraction(answer=None, source=None)  # "\boxed{}": the answer slot is empty
        answer = _final_line(view)
        return Extraction(answer=answer, source="final_line" if answer else None)
    last = statements[-1]
    tail = view[max(s.end for s in statements) :]
    retracted = _prose.retracted(tail) or any(pos > last.start for pos in negated)
    denied = tuple(_prose.strip_wrappers(m.group(1)) for m in _NEGATED_VALUE_RE.finditer(tail))
    distinct_boxes = {_hedge_key(b.text) for b in boxes}
    return Extraction(
        answer=last.text,
        source=last.kind,
        hedged=retracted or len(distinct_boxes) > 1,
        statements=tuple(statements),
        retracted=retracted,
        denied=denied,
        reconsidered=_prose.reconsidered_value(tail),
    )


@lru_cache(maxsize=1024)
def reference_answer(text: str) -> str:
    """The gold answer in a reference, which may be a whole solution (cached: a run checks
    every sample of a problem against the same reference).

    Boxes give the answer (several different ones are its parts, in order); else a
    ``####`` line or an answer prefix; else a prose text's final line. A reference that
    is already an answer (``\\frac{1}{2}``, ``$21,16$ or $11$``) is returned as is.
    """
    cleaned, view = prepare(text)
    boxes = [b.text for b in _boxes(view) if b.text]
    if boxes:
        parts: list[str] = []
        for box in boxes:
            if _hedge_key(box) not in {_hedge_key(p) for p in parts}:
                parts.append(box)
        return ", ".join(parts) if len(parts) > 1 else parts[0]
    hashes = _hashes(view)
    prefixes, _ = _prefixes(view)
    statements = sorted([*hashes, *prefixes], key=lambda s: s.start)
    if statements:
        return statements[-1].text
    outside = _prose.MATH_SEG_RE.sub(" ", cleaned)
    if len(_prose.prose_words(outside)) > 3 and not cleaned.strip().startswith("\\text"):
        found = _final_line(view)
        if found:
            return found
    return cleaned.strip()

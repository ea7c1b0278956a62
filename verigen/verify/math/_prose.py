"""Values stated in prose: answer-prefix contents, concluding final lines, retractions.

Prose is where false accepts come from: a line that merely mentions a number ("Three
trucks will carry the 80 flagstones") must not yield that number, a negated conclusion
("So 12 is not the answer.") states nothing, and an answer followed by "Wait, ... that
is wrong" is withdrawn. Each function here returns None (or True for a retraction)
rather than guess.
"""

from __future__ import annotations

import re

from verigen.verify.math.normalize import normalize

# "\$" inside math is a dollar sign, not a delimiter.
MATH_SEG_RE = re.compile(
    r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL
)
NUMBER_RE = re.compile(
    r"(?<![\w.])-?\$?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?%?"
    r"(?:\s*(?:thousand|million|billion|trillion|dozen|hundred)\b)?"
    r"|(?<![\w.])-?\$?\.\d+%?"
)
# A number word after "the", "each", "of"... refers back to the problem's data ("over the
# three months"); one without ("Three trucks will be needed") may be the answer.
NUMBER_WORD_RE = re.compile(
    r"(?<!\bthe )(?<!\bthese )(?<!\bthose )(?<!\beach )(?<!\bevery )(?<!\bper )(?<!\ball )"
    r"(?<!\bboth )(?<!\bof )\b(?:zero(?!\s+(?:matrix|vector|polynomial|function))|"
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand|million|billion|dozen|half|twice|double|triple)\b",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")
_CONCLUSION_RE = re.compile(
    r"^\W*(?:and,?\s+)?(?:so|therefore|thus|hence|finally|altogether|overall|in total|in all|and|"
    r"that means|this means|which means|in conclusion|as a result|consequently)\b",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"[.!](?:\*\*|\$|\)|\s)*$")
_EQUALS_VALUE_RE = re.compile(r"(?<![!<>])=\s*(-?\$?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?%?)(?![\d.,]*\s*[-+*/^=])")
# "is", "are", "equals", "=" introduce the value a sentence states ("The volume is 120").
_COPULA_RE = re.compile(r"\s(?:is|are|was|were|equals?|be|becomes?|comes? to|totals?)\s+(?:equal to\s+)?|=",
                        re.IGNORECASE)
NEGATION_RE = re.compile(
    r"\b(?:not|never|no longer|cannot|isn't|aren't|wasn't|can't|won't|doesn't|don't)\b|n't\b",
    re.IGNORECASE,
)
# After an answer: the model withdrawing it.
_RETRACT_RE = re.compile(
    r"\b(?:(?:is|was|are|'s)(?: not|n't) (?:right|correct|valid|the (?:correct |right |final )?answer)|"
    r"(?:is|was|are|'s) (?:wrong|incorrect)|(?:cannot|can't|could not|couldn't) be (?:right|correct|the answer)|"
    r"(?:made|make|there (?:is|was)|found|spotted) (?:a|an) (?:mistake|error)|my (?:mistake|error)|"
    r"miscalculat\w*|oops|not the (?:correct |right |final )?(?:answer|solution))\b",
    re.IGNORECASE,
)
# After an answer: the model reconsidering, at the start of a sentence ("Wait, ... 15");
# a different value after it is a new answer. "we didn't actually need 4" is no such thing.
_RECONSIDER_RE = re.compile(
    r"(?:^|[.!?:]\s+|\n\s*)(?:wait|hmm+|actually|on second thought|oops|let me (?:re-?do|re-?calculate|re-?check|"
    r"reconsider|re-?evaluate|double[- ]check|check again|correct (?:this|that|myself)))\b",
    re.IGNORECASE,
)
_JUDGEMENT_RE = re.compile(
    r"(?:(?:indeed|also|still|definitely|likely|probably)\s+)?(?:correct|right|wrong|incorrect|valid|invalid|"
    r"verified|confirmed|consistent|reasonable|plausible|accurate|reasonable|unchanged|the same)",
    re.IGNORECASE,
)
# "5, because 2 + 3 = 5": the value comes before the reason.
_REASON_RE = re.compile(r",?\s+(?:because|since|as|which|for|so that|given that)\s", re.IGNORECASE)
SHORT_ANSWER_MAX = 40
BARE_MATH_MAX = 300


def seg_inner(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g is not None).strip()


def prose_words(text: str) -> list[str]:
    """Words of two or more letters that are not LaTeX commands or environment names."""
    text = re.sub(r"\\(?:begin|end)\{\w+\}", "", text)
    return _WORD_RE.findall(text)


_QUOTES_RE = re.compile(r'^(?:\\?"|\u201c|`)(.*)(?:\\?"|\u201d|`)$', re.DOTALL)


def strip_wrappers(answer: str) -> str:
    """Remove quotes, math delimiters and trailing sentence punctuation around an answer."""
    ans = answer.strip()
    quoted = _QUOTES_RE.match(re.sub(r"[.,;]+$", "", ans))
    if quoted is not None:
        ans = quoted.group(1).strip()
    seg = MATH_SEG_RE.search(ans)
    if seg is not None and ans.count("$") != 1 and not MATH_SEG_RE.sub("", ans).strip(" .,;:"):
        ans = seg_inner(seg)
    ans = ans.strip()
    # "!" ends a sentence after a word, but "5!" is a factorial.
    while ans and (ans[-1] in ".,;:" or (ans[-1] == "!" and ans[-2:-1].isalpha())):
        ans = ans[:-1].rstrip()
    return ans.strip()


def first_sentence(text: str) -> str:
    """Up to the first sentence end (". " or a final "."; a decimal point does not end one)."""
    return re.split(r"\.(?:\s|$)|(?<=[a-z])!(?:\s|$)|\s\(?I hope", text, maxsplit=1)[0]


def values_in(line: str) -> list[str]:
    """Math segments of a line, else its plain numbers (with attached multiplier words)."""
    segs = [seg_inner(m) for m in MATH_SEG_RE.finditer(line)]
    return [s for s in segs if s] or [n.strip() for n in NUMBER_RE.findall(line)]


def _mentions(line: str) -> int:
    """How many values a line mentions, number words included ("Three trucks ... 80")."""
    plain = NUMBER_RE.sub(" N ", MATH_SEG_RE.sub(" V ", line))
    return len(values_in(line)) + len(NUMBER_WORD_RE.findall(plain))


def is_bare_answer(text: str) -> bool:
    """No prose once units are normalized away ("18 dollars", "12 thousand"), or a short
    text answer without digits ("Evelyn", "odd")."""
    words = prose_words(MATH_SEG_RE.sub(" ", normalize(text).text))
    return not words or (len(words) <= 2 and not re.search(r"\d", text))


def _negated_first(content: str) -> bool:
    """A negation before the first value ("not 12", "isn't $5$")."""
    negation = NEGATION_RE.search(MATH_SEG_RE.sub(lambda m: "$" * len(m.group(0)), content))
    if negation is None:
        return False
    first = re.search(r"\$|\d|\\\(", content)
    return first is None or negation.start() < first.start()


def stated_value(content: str) -> str | None:
    """The value an answer prefix introduces (see ``_stated``); a verdict on an answer
    ("so our answer is correct") is none."""
    value = _stated(content)
    return None if value is None or _JUDGEMENT_RE.fullmatch(value) else value


def _stated(content: str) -> str | None:
    """The value an answer prefix introduces: ``content`` is what follows "Answer:".

    A bare value or math span is taken as is; a sentence ("The volume of $ABCD$ is 120")
    gives what follows its last copula, or its only value; a negated one gives nothing.
    """
    content = _REASON_RE.split(first_sentence(content.strip()), maxsplit=1)[0].strip()
    if not content or _negated_first(content):
        return None
    content = re.split(r",?\s+(?:and\s+)?not\s", content, maxsplit=1)[0]  # "$14$ and not 15"
    head = MATH_SEG_RE.match(content)
    if head is not None and not prose_words(content[head.end() :]):
        return seg_inner(head) or None
    bare = strip_wrappers(content)
    if len(bare) <= BARE_MATH_MAX and is_bare_answer(bare):
        return bare or None
    hidden = MATH_SEG_RE.sub(lambda m: "$" * len(m.group(0)), content)
    copulas = list(_COPULA_RE.finditer(hidden))
    if copulas:
        rest = strip_wrappers(content[copulas[-1].end() :])
        if rest and len(rest) <= BARE_MATH_MAX and is_bare_answer(rest):
            return rest
    values = values_in(content)
    return values[0] if len(values) == 1 and _mentions(content) == 1 else None


# Closing formulas that state nothing ("I hope it is correct.", "Note: ...").
_BOILERPLATE_RE = re.compile(
    r"^\W*(?:I hope (?:it|this) (?:is correct|helps)|hope (?:this|it) helps|thank you|thanks|"
    r"let me know|feel free|note\b|\[note\b|please|good luck|if you have any)",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(
    r"(?<=[.!?$])\s+(?=[A-Z][a-z]|[A-Z]\s)|\s+(?=(?:Therefore|Thus|Hence|So),?\s)"
)


def last_sentence(line: str) -> str:
    """The last sentence of a line that states something (closing boilerplate skipped)."""
    hidden = MATH_SEG_RE.sub(lambda m: "$" * len(m.group(0)), line)
    cuts = [0] + [m.end() for m in _SENTENCE_SPLIT_RE.finditer(hidden)]
    sentences = [line[a:b].strip() for a, b in zip(cuts, [*cuts[1:], len(line)], strict=True)]
    while len(sentences) > 1 and (not sentences[-1] or _BOILERPLATE_RE.match(sentences[-1])):
        sentences.pop()
    return sentences[-1] if sentences else line


# "is not 10", "cannot be 12": a value said not to be the answer is dropped from the line.
_DENIED_VALUE_RE = re.compile(
    r"\b(?:not|never|cannot|can't|isn't)\s+(?:be\s+)?(?:equal\s+to\s+)?"
    r"(?:-?\$?\d+(?:,\d{3})*(?:\.\d+)?|\$[^$]+\$)(?![\d.,]*\w)",
    re.IGNORECASE,
)


def from_final_line(line: str) -> str | None:
    """The answer a completion's last line states, or None."""
    line = _DENIED_VALUE_RE.sub(" ", last_sentence(line))
    segs = list(MATH_SEG_RE.finditer(line))
    outside = MATH_SEG_RE.sub(" ", line)
    if NEGATION_RE.search(outside):
        return None
    # Two prose words or fewer around the math ("Thus $x=5$."): the math is the answer.
    if segs and len(prose_words(outside)) <= 2:
        return seg_inner(segs[-1]) or None
    if not segs:
        bare = strip_wrappers(_CONCLUSION_RE.sub("", line).lstrip(" ,"))  # "Thus, C = 60."
        words = len(prose_words(bare))
        if (words <= 1 and len(bare) <= SHORT_ANSWER_MAX) or (words == 0 and len(bare) <= BARE_MATH_MAX):
            return bare or None
        # "288\pi \text{ cubic units}": a bare answer once unit words are gone.
        if len(bare) <= BARE_MATH_MAX and not prose_words(normalize(bare).text):
            return bare
        if words == 0:  # a long run of bare math: its last number (size caps apply later)
            numbers = NUMBER_RE.findall(line)
            return numbers[-1] if numbers else None
    return from_sentence(line)


# A sentence that opens with a quantity and its noun states that quantity ("Four containers
# were imported on the second day.", "16 people think that horse #12 will win."), unless
# it is arithmetic in words ("5 apples plus 7 apples make 12").
_SUBJECT_RE = re.compile(
    r"(-?\$?\d+(?:,\d{3})*(?:\.\d+)?|(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety))\s+(?!(?:times|plus|minus|divided|multiplied|percent|of|out|and|or|to|by)\b)"
    r"[a-z]+\s+[a-z]+",
    re.IGNORECASE,
)
_ARITHMETIC_RE = re.compile(r"[=+*/^]|\s-\s|\b(?:plus|minus|times|divided|multiplied|sum|product|difference|"
                            r"equals?|total of|more than|less than|left|so|therefore|thus|hence|which|means|"
                            r"each|per|if|otherwise)\b", re.IGNORECASE)


def _ends_with_value(line: str) -> bool:
    """The line's last characters are a number or a math span (closing marks aside)."""
    tail = re.sub(r"[\s.,;:!)\]*_]+$", "", line)
    return bool(tail) and (tail.endswith("$") or tail.endswith("\\)") or tail.endswith("\\]")
                           or bool(re.search(r"(?:^|\s)\$?\d\S*$", tail)))


def from_sentence(line: str) -> str | None:
    """The value a concluding prose sentence states, or None when it states none clearly.

    Prose that merely mentions numbers must not yield an answer: the last number of such
    a line is a guess, and a guess that equals a number of the problem is a false accept.
    """
    opening = _CONCLUSION_RE.sub("", line).lstrip(" ,")
    subject = _SUBJECT_RE.match(opening)
    if subject is not None and _SENTENCE_END_RE.search(line) and not _ARITHMETIC_RE.search(opening):
        return subject.group(1)  # "Three trucks will be needed for the 80 flagstones.": three
    values = values_in(line)
    if not values:
        return None
    # A cut-off line ("Multiply this by 240 to") states nothing, whatever numbers it holds.
    if not (_SENTENCE_END_RE.search(line) or _ends_with_value(line)):
        return None
    # "The solutions are $x=2$ and $x=3$."; "So, the pair $(x, y)$ that solves it is $(7, 6)$."
    copular = _after_copula(line, conclusion=_CONCLUSION_RE.match(line) is not None)
    if copular is not None:
        return copular
    equals: list[str] = _EQUALS_VALUE_RE.findall(MATH_SEG_RE.sub(lambda m: m.group(0).strip("$"), line))
    if len(set(equals)) > 1:
        return None  # "x = 2 and x = 3": several results, none of them the answer
    if _CONCLUSION_RE.match(line) and _mentions(line) == 1:  # "So she keeps 14 apples."
        return values[0]
    if equals:  # "... 48 + 24 = 72 clips altogether."
        return equals[-1]
    return values[0] if _mentions(line) == 1 else None  # "Weng earned $10."


def _after_copula(line: str, *, conclusion: bool) -> str | None:
    """What follows the last copula when it is bare math, and nothing before it is a value
    (in a concluding sentence, values before it name what is concluded)."""
    hidden = MATH_SEG_RE.sub(lambda m: "$" * len(m.group(0)), line)
    # In a conclusion only a word ("is", "are") may follow named values: "x = 2 and y = 3"
    # concludes two results, not the last.
    copulas = [c for c in _COPULA_RE.finditer(hidden) if not (conclusion and c.group(0) == "=")]
    if not copulas or (not conclusion and values_in(line[: copulas[-1].start()])):
        return None
    raw = first_sentence(line[copulas[-1].end() :])
    rest = strip_wrappers(raw)
    if rest and len(rest) <= BARE_MATH_MAX and is_bare_answer(rest) and values_in(raw):
        return rest
    return None


def retracted(tail: str) -> bool:
    """Whether text after the final answer withdraws it ("that is wrong", "not the answer")."""
    return _RETRACT_RE.search(tail) is not None


def reconsidered_value(tail: str) -> str | None:
    """The value the last line states after the model starts reconsidering ("Wait, ... 15")."""
    match = _RECONSIDER_RE.search(tail)
    if match is None:
        return None
    lines = [ln.strip() for ln in tail[match.end() :].splitlines() if ln.strip()]
    if not lines or NEGATION_RE.search(MATH_SEG_RE.sub(" ", lines[-1])):
        return None
    return from_sentence(lines[-1])

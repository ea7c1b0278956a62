"""Text preparation before answer extraction (pure string work, positions preserved).

- ``undouble_backslashes``: text that went through JSON escaping twice (``\\\\frac``).
- ``cut_continuation``: a completion that runs on into a new turn or a new few-shot
  question ends where that starts (what a stop sequence would have done).
- ``mask_code``: fenced code blocks, HTML and LaTeX comments become blanks, so a
  ``\\boxed{}`` printed by a program or left in a comment is never a stated answer.
- ``join_display_math``: display math that spans lines becomes one line.
- ``unbold``: markdown emphasis markers become blanks (``**Answer:** 5``).

Every function but ``undouble_backslashes`` and ``cut_continuation`` keeps the text's
length, so positions found in a masked view index the original.
"""

from __future__ import annotations

import re

_COMMANDS = (
    r"frac|dfrac|tfrac|boxed|sqrt|left|right|text|mathrm|cdot|times|pi|le|ge|leq|geq|neq|infty|"
    r"begin|end|pm|circ|sin|cos|tan|log|ln|quad|cup|in|approx|dots|ldots|overline|binom"
)
_DOUBLED_CMD_RE = re.compile(rf"(?<!\\)\\\\(?:{_COMMANDS})(?![a-zA-Z])")
_SINGLE_CMD_RE = re.compile(rf"(?<!\\)\\(?:{_COMMANDS})(?![a-zA-Z])")
_ESCAPES = {"\\": "\\", "n": "\n", "t": "\t", '"': '"', "/": "/"}
_ESCAPE_RE = re.compile(r'\\(\\|n|t|"|/)')
_SPECIAL_TOKEN_RE = re.compile(r"<\|(?:im_start|im_end|endoftext|eot_id|end_of_text)\|>|</s>")
# A new few-shot item or chat turn at the start of a line: the model kept generating.
_CONTINUATION_RE = re.compile(
    r"^[ \t]*(?:Q|Question|Problem|Human|User|USER|### (?:Instruction|Problem|Question))[ \t]*:",
    re.MULTILINE,
)
# ``` or ~~~ fences; a math-language fence (```latex) holds math, not code.
_FENCE_RE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([A-Za-z0-9_+-]*)[^\n]*$", re.MULTILINE)
_MATH_FENCES = {"latex", "tex", "math", "katex"}
_HTML_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_COMMENT_LINE_RE = re.compile(r"^[ \t]*(?:%|//|>>>)[^\n]*$", re.MULTILINE)
_DISPLAY_RE = re.compile(
    r"\\\[.*?\\\]|\$\$.*?\$\$|\\\(.*?\\\)|"
    r"\\begin\{(align|equation|gather|multline|eqnarray|array|[pbvBV]?matrix|cases)\*?\}.*?"
    r"\\end\{\1\*?\}",
    re.DOTALL,
)
# "$" closing a line and "$" opening a later one (at most 3 lines apart): one math span.
_SPLIT_DOLLAR_RE = re.compile(r"(?<![$\\])\$[ \t]*\n(?:[^$\n]*\n){0,3}?[ \t]*\$(?!\$)")
_BOLD_RE = re.compile(r"\*\*|__")


def undouble_backslashes(text: str) -> str:
    """Undo one level of JSON escaping when the text went through it twice.

    The sign: LaTeX commands written with two backslashes (``\\\\frac``) and none with
    one. Then ``\\\\`` is one backslash (``\\\\\\\\`` a matrix row break), and ``\\n``,
    ``\\"`` are a newline and a quote.
    """
    if not _DOUBLED_CMD_RE.search(text) or _SINGLE_CMD_RE.search(text):
        return text
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)[0]] if m.group(1) != "\\" else "\\", text)


def cut_continuation(text: str) -> str:
    """``text`` up to a chat special token or a new few-shot question, if any content
    precedes; after a reasoning block (``</think>``) only what follows it is the answer."""
    _, sep, after = text.rpartition("</think>")
    if sep and after.strip():
        text = after
    match = _SPECIAL_TOKEN_RE.search(text)
    if match is not None and text[: match.start()].strip():
        text = text[: match.start()]
    for match in _CONTINUATION_RE.finditer(text):
        if text[: match.start()].strip():
            return text[: match.start()]
    return text


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def mask_code(text: str) -> str:
    """Blank out fenced code (an unclosed fence runs to the end), HTML and LaTeX comments."""
    out = list(text)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if out[i] != "\n":
                out[i] = " "

    fences = list(_FENCE_RE.finditer(text))
    i = 0
    while i < len(fences):
        opening = fences[i]
        closing = next((f for f in fences[i + 1 :] if f.group(1) == opening.group(1)), None)
        end = closing.end() if closing is not None else len(text)
        if opening.group(2).lower() not in _MATH_FENCES:
            blank(opening.start(), end)
        else:  # the fence lines themselves are not math
            blank(opening.start(), opening.end())
            if closing is not None:
                blank(closing.start(), closing.end())
        if closing is None:
            break
        i = fences.index(closing) + 1
    masked = "".join(out)
    masked = _HTML_COMMENT_RE.sub(lambda m: _blank(m.group(0)), masked)
    return _COMMENT_LINE_RE.sub(lambda m: _blank(m.group(0)), masked)


def join_display_math(text: str) -> str:
    """Newlines inside display math (``\\[ .. \\]``, ``$$ .. $$``, environments) become spaces."""
    text = _DISPLAY_RE.sub(lambda m: m.group(0).replace("\n", " "), text)
    return _SPLIT_DOLLAR_RE.sub(lambda m: m.group(0).replace("\n", " "), text)


_DOLLAR_RE = re.compile(r"(?<![\\$])\$(?!\$)")


def currency_dollars(text: str) -> str:
    """Dollar signs of prices become blanks, line by line: on a line where every ``$`` is
    followed by a digit ("$80 - $48 = $32"), none of them delimits math."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        signs = list(_DOLLAR_RE.finditer(line))
        if signs and all(re.match(r"-?\d", line[m.end() :]) for m in signs):
            lines[i] = _DOLLAR_RE.sub(" ", line)
    return "\n".join(lines)


def unbold(text: str) -> str:
    """Markdown bold markers become blanks (same length)."""
    return _BOLD_RE.sub(lambda m: " " * len(m.group(0)), text)

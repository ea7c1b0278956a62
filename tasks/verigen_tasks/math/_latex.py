"""The boxed answer of a dataset solution: the LAST ``\\boxed{...}`` (or ``\\fbox{...}``),
read with balanced braces so ``\\boxed{\\frac{1}{2}}`` yields ``\\frac{1}{2}``."""

from __future__ import annotations

import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox)")
# "\boxed 5" (no braces) occurs in a few MATH solutions: the answer runs to a space or "$".
_BARE_RE = re.compile(r"\s+([^\s${}]+)")


def _braced_end(text: str, start: int) -> int | None:
    """The index just past the ``}`` that closes the ``{`` at ``text[start]``."""
    depth = 0
    i = start
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
                return i + 1
        i += 1
    return None


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every box, in order; unbalanced boxes are skipped."""
    found: list[tuple[int, int, str]] = []
    for match in _BOX_RE.finditer(text):
        pos = match.end()
        if pos < len(text) and text[pos] == "{":
            end = _braced_end(text, pos)
            if end is not None:
                found.append((match.start(), end, text[pos + 1 : end - 1].strip()))
            continue
        bare = _BARE_RE.match(text, pos)
        if bare is not None:
            found.append((match.start(), bare.end(), bare[1]))
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last box in ``text``, or None when there is none."""
    boxes = _boxes(text)
    return boxes[-1][2] if boxes else None


def unbox(text: str) -> str:
    """``text`` with every box replaced by its content (so only one box can remain once a
    final answer line is appended: several different boxes read as hedging)."""
    out: list[str] = []
    last = 0
    for start, end, content in _boxes(text):
        out.append(text[last:start])
        out.append(content)
        last = end
    out.append(text[last:])
    return "".join(out)

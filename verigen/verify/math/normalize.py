"""Normalize an answer string before parsing: pure string work, no SymPy.

Removes presentation that carries no value (``\\text``, ``\\left``, spacing commands,
degrees, currency, unit words, thousands separators) and rewrites mixed numbers, so the
parser sees plain math. A trailing percent sign is removed and reported as a flag:
the comparison, not the normalizer, decides what a percentage equals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNIT_WORDS = (
    r"units?|sq|square|cubic|cm|mm|km|meters?|metres?|centimeters?|millimeters?|kilometers?|"
    r"feet|foot|ft|inch(?:es)?|miles?|mph|yards?|hours?|hrs?|minutes?|mins?|seconds?|"
    r"days?|weeks?|months?|years?|dollars?|cents?|degrees?|pounds?|lbs?|ounces?|oz|kg|"
    r"kilograms?|grams?|liters?|litres?|gallons?|ml|people|persons?|students?|points?|"
    r"steps?|ways?|USD"
)
_UNIT_RE = re.compile(rf"(?<![\\a-zA-Z])(?:{_UNIT_WORDS})(?![a-zA-Z])(?:\s*\^\s*\{{?[23]\}}?)?", re.I)
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{")
_UNIT_TEXT_RE = re.compile(
    rf"\\(?:text|mbox|mathrm|textrm)\s*\{{\s*(?:(?:{_UNIT_WORDS})\s*)+\}}(?:\s*\^\s*\{{?[23]\}}?)?", re.I
)
_THOUSANDS_RE = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
_FRAC_SHORT_RE = re.compile(r"\\frac\s*(\d)\s*(\d)|\\frac\s*(\d)\s*(?=\{)|\\frac\s*(\{[^{}]*\})\s*(\d)")
_MIXED_LATEX_RE = re.compile(r"(?<![\d.^_{}a-zA-Z])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}")
_MIXED_PLAIN_RE = re.compile(r"^(-?)(\d+)\s+(\d+)/(\d+)$")
_TRAILING_WORDS_RE = re.compile(r"^(.*?[\d}])\s+[a-zA-Z]{2,}(?:\s+[a-zA-Z]+)*\.?$")
_SIMPLE_SUBS = (
    ("\u2212", "-"), ("\u00d7", r"\times "), ("\u00b7", r"\cdot "), ("\u03c0", r"\pi "),
    ("\u221e", r"\infty "), ("\u00b0", ""), (r"\dfrac", r"\frac"), (r"\tfrac", r"\frac"),
    (r"\displaystyle", ""), (r"\left", ""), (r"\right", ""), (r"\!", ""), (r"\,", ""),
    (r"\;", " "), (r"\:", " "), (r"\quad", " "), (r"\qquad", " "), (r"\ ", " "),
    ("{,}", ","), (r"\%", "%"), (r"\$", ""), (r"\{", "\x00"), (r"\}", "\x01"), (r"\lbrace", "\x00"),
    (r"\rbrace", "\x01"), (r"\infinity", r"\infty"), (r"\le ", r"\leq "), (r"\ge ", r"\geq "),
)
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree")


@dataclass(frozen=True, slots=True, kw_only=True)
class Normalized:
    """A normalized answer: ``percent`` says a percent sign (or word) was removed."""

    text: str
    percent: bool = False


def _unwrap_text_commands(text: str) -> str:
    """``\\text{abc}`` -> ``abc`` (balanced braces), for every text-like command."""
    for _ in range(50):  # bounded: each round removes one command
        match = _TEXT_CMD_RE.search(text)
        if match is None:
            return text
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        inner = text[match.end() : i - 1] if depth == 0 else text[match.end() :]
        text = text[: match.start()] + inner + text[i:]
    return text


def _frac_short(match: re.Match[str]) -> str:
    a, b, c, d, e = match.group(1), match.group(2), match.group(3), match.group(4), match.group(5)
    if a is not None:
        return rf"\frac{{{a}}}{{{b}}}"
    if c is not None:
        return rf"\frac{{{c}}}"
    return rf"\frac{d}{{{e}}}"


def _mixed_latex(match: re.Match[str]) -> str:
    whole, num, den = match.group(1), match.group(2), match.group(3)
    if int(num) >= int(den) or len(whole) > 12:
        return match.group(0)
    return rf"({whole}+\frac{{{num}}}{{{den}}})"


def _strip_units_and_words(text: str) -> str:
    if not re.search(r"[a-zA-Z]", text):
        return text  # nothing to strip; skips the regexes on long digit strings
    text = _UNIT_TEXT_RE.sub("", text)
    text = _unwrap_text_commands(text)
    stripped = _UNIT_RE.sub("", text).strip()
    # Only drop unit words when something remains (a bare "units" answer stays as is).
    if stripped:
        text = stripped
    match = _TRAILING_WORDS_RE.match(text)
    if match is not None and not re.search(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", match.group(1))):
        text = match.group(1)
    return text


def _strip_delimiters(text: str) -> str:
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), (r"\(", r"\)"), (r"\[", r"\]")):
        if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
            text = text[len(left) : len(text) - len(right)].strip()
    return text


def normalize(answer: str) -> Normalized:
    """Normalize one answer string (gold or prediction) for parsing and comparison."""
    text = _strip_delimiters(answer)
    # Protect matrix row breaks from the spacing-command rules below ("\\ 1" is not "\ ").
    text = text.replace("\\\\", "\x02")
    text = re.sub(r"(\d),\\!\s*(?=\d{3})", r"\1,", text)
    for old, new in _SIMPLE_SUBS:
        text = text.replace(old, new)
    text = _DEGREE_RE.sub("", text)
    percent = False
    if "%" in text or re.search(r"\bpercent\b", text, re.I):
        percent = True
        text = re.sub(r"%|\bpercent\b", "", text, flags=re.I)
    text = _strip_units_and_words(text)
    text = text.replace("$", "")
    text = re.sub(r"\s+(?:or|and)\s+", ", ", text)
    text = re.sub(r"^[a-zA-Z]\s*\\in\s*", "", text.strip())
    if not text.lstrip("-").startswith(("(", "[", "\x00")):
        text = _THOUSANDS_RE.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _FRAC_SHORT_RE.sub(_frac_short, text)
    text = _MIXED_LATEX_RE.sub(_mixed_latex, text)
    mixed = _MIXED_PLAIN_RE.match(text.strip())
    if mixed is not None and int(mixed.group(3)) < int(mixed.group(4)):
        sign, whole, num, den = mixed.groups()
        text = f"{sign}({whole}+{num}/{den})"
    text = text.replace("\x00", r"\{").replace("\x01", r"\}").replace("\x02", "\\\\")
    text = re.sub(r"\s+", " ", text).strip().rstrip(".").strip()
    return Normalized(text=text, percent=percent)

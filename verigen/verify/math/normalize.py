"""Normalize an answer string before parsing: pure string work, no SymPy.

Removes presentation that carries no value (``\\text``, ``\\left``, spacing commands,
degrees, currency, unit words, thousands separators) and rewrites mixed numbers, so the
parser sees plain math. A trailing percent sign is removed and reported as a flag:
the comparison, not the normalizer, decides what a percentage equals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

_UNIT_WORDS = (
    r"units?|sq|square|cubic|cm|mm|km|meters?|metres?|centimeters?|millimeters?|kilometers?|"
    r"feet|foot|ft|inch(?:es)?|miles?|mph|yards?|hours?|hrs?|minutes?|mins?|seconds?|"
    r"days?|weeks?|months?|years?|dollars?|cents?|degrees?|pounds?|lbs?|ounces?|oz|kg|"
    r"kilograms?|grams?|liters?|litres?|gallons?|ml|people|persons?|students?|points?|"
    r"steps?|ways?|USD"
)
_UNIT_RE = re.compile(rf"(?<![\\a-zA-Z])(?:{_UNIT_WORDS})(?![a-zA-Z])(?:\s*\^\s*\{{?[23]\}}?)?", re.I)
_TEXT_CMD_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textsf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|"
    r"mathnormal|boldsymbol|bm|mbox|hbox|operatorname)\s*\{"
)
_UNIT_TEXT_RE = re.compile(
    rf"\\(?:text|mbox|mathrm|textrm|textnormal)\s*\{{\s*(?:(?:{_UNIT_WORDS})\s*)+\}}(?:\s*\^\s*\{{?[23]\}}?)?", re.I
)
_THOUSANDS_RE = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
_FRAC_SHORT_RE = re.compile(r"\\frac\s*(\d)\s*(\d)|\\frac\s*(\d)\s*(?=\{)|\\frac\s*(\{[^{}]*\})\s*(\d)")
_MIXED_LATEX_RE = re.compile(r"(?<![\d.^_{}a-zA-Z])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}")
_MIXED_PLAIN_RE = re.compile(r"^(-?)(\d+)\s+(\d+)/(\d+)$")
_TRAILING_WORDS_RE = re.compile(r"^(.*?[\d}])\s+[a-zA-Z]{2,}(?:\s+[a-zA-Z]+)*\.?$")
_SIMPLE_SUBS = (
    ("\u2212", "-"), ("\u00d7", r"\times "), ("\u00b7", r"\cdot "), ("\u03c0", r"\pi "),
    ("\u221e", r"\infty "), ("\u00b0", ""), ("\u20ac", ""), ("\u00a3", ""), ("\u00a5", ""),
    (r"\dfrac", r"\frac"), (r"\tfrac", r"\frac"), (r"\cfrac", r"\frac"),
    (r"\displaystyle", ""), (r"\left", ""), (r"\right", ""), (r"\!", ""), (r"\,", ""),
    (r"\;", " "), (r"\:", " "), (r"\quad", " "), (r"\qquad", " "), (r"\ ", " "),
    ("{,}", ","), (r"\%", "%"), (r"\$", ""), (r"\{", "\x00"), (r"\}", "\x01"), (r"\lbrace", "\x00"),
    (r"\rbrace", "\x01"), (r"\infinity", r"\infty"), (r"\le ", r"\leq "), (r"\ge ", r"\geq "),
)
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)(?![a-z])")
_DEGREE_VALUE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|\u00b0)")
# "12 thousand", "5 dozen", "3.5 \text{ million}": the word multiplies the number.
_MULTIPLIERS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9,
                "trillion": 10**12, "dozen": 12}
_MULTIPLIER_RE = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:\\(?:text|mathrm|textnormal|mbox)\s*\{\s*)?"
    r"(hundred|thousand|million|billion|trillion|dozen)s?(?![a-zA-Z])(?:\s*\})?",
    re.I,
)
_NUMBER_WORDS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                      "eighty": 80, "ninety": 90, "hundred": 100})
_APPROX_RE = re.compile(r"\\approx|\u2248|\\simeq|\\sim(?![a-z])")
_BARE_LABEL_RE = re.compile(r"\s*[A-Za-z](?:_\{?\w+\}?)?\s*=?\s*")
_SPACED_THOUSANDS_RE = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_GLUED_OR_RE = re.compile(r"(?<=[)\]}\d])\s*(?:or|and)\s*(?=[(\[{\d-])")


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


def _multiplied(match: re.Match[str]) -> str:
    value = Fraction(match.group(1)) * _MULTIPLIERS[match.group(2).lower()]
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _exact_side(text: str) -> str:
    """``a \\approx b``: the exact side ``a``, unless ``a`` is only a name (``x \\approx 11``)."""
    parts = [p for p in _APPROX_RE.split(text) if p.strip()]
    if not parts:
        return text
    return parts[-1] if _BARE_LABEL_RE.fullmatch(parts[0]) else parts[0]


def approximate_side(answer: str) -> str | None:
    """``\\frac{70}{9} \\approx 7.78`` -> ``7.78``: the rounded value an answer states, if any."""
    parts = [p for p in _APPROX_RE.split(_strip_delimiters(answer)) if p.strip()]
    return parts[-1].strip() if len(parts) > 1 else None


def _degrees(text: str) -> str:
    """Degrees inside trigonometry are radians to the parser; elsewhere the sign goes."""
    if _TRIG_RE.search(text):
        text = _DEGREE_VALUE_RE.sub(r"(\1\\pi/180)", text)
    return _DEGREE_RE.sub("", text)


@lru_cache(maxsize=4096)
def normalize(answer: str) -> Normalized:
    """Normalize one answer string (gold or prediction) for parsing and comparison.

    Cached: a check normalizes the same strings several times (gold, statements, key).
    """
    text = _strip_delimiters(answer)
    if _APPROX_RE.search(text):
        text = _exact_side(text)
    # Protect matrix row breaks from the spacing-command rules below ("\\ 1" is not "\ ").
    text = text.replace("\\\\", "\x02")
    text = re.sub(r"(\d),\\!\s*(?=\d{3})", r"\1,", text)
    text = re.sub(r"(\d)\s*\{\s*,\s*\}\s*(?=\d{3})", r"\1,", text)  # 14 {, }916
    for old, new in _SIMPLE_SUBS:
        text = text.replace(old, new)
    text = _degrees(text)
    text = _MULTIPLIER_RE.sub(_multiplied, text)
    percent = False
    if "%" in text or re.search(r"\bpercent\b", text, re.I):
        percent = True
        text = re.sub(r"%|\bpercent\b", "", text, flags=re.I)
    text = _strip_units_and_words(text)
    text = text.replace("$", "")
    text = re.sub(r"\s+(?:or|and)\s+", ", ", text)
    text = _GLUED_OR_RE.sub(", ", text)
    if _SPACED_THOUSANDS_RE.fullmatch(text.strip()):
        text = text.replace(" ", "")
    text = re.sub(r"^[a-zA-Z]\s*\\in\s*", "", text.strip())
    if not text.lstrip("-").startswith(("(", "[", "\x00")):
        text = _THOUSANDS_RE.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _FRAC_SHORT_RE.sub(_frac_short, text)
    text = _MIXED_LATEX_RE.sub(_mixed_latex, text)
    mixed = _MIXED_PLAIN_RE.match(text.strip())
    if mixed is not None and int(mixed.group(3)) < int(mixed.group(4)):
        sign, whole, num, den = mixed.groups()
        text = f"{sign}({whole}+{num}/{den})"
    if re.fullmatch(r"\{[^{}]*,[^{}]*\}", text.strip()):
        text = "\x00" + text.strip()[1:-1] + "\x01"  # {1,2,3}: a set written without backslashes
    text = text.replace("\x00", r"\{").replace("\x01", r"\}").replace("\x02", "\\\\")
    text = re.sub(r"\s+", " ", text).strip().rstrip(".").strip()
    text = re.sub(r"(?<=[\d}])\s*\\+$", "", text)  # "185\\": a stray trailing backslash
    word = _NUMBER_WORDS.get(text.casefold())
    if word is not None:  # the whole answer is a number word: "two"
        text = str(word)
    return Normalized(text=text, percent=percent)

"""Labelled answers (pure string work): ``(p,q)=(3,2)``, ``x=1, y=2, z=3``, ``f(x)=2x+3``.

A label names the value it precedes; a grader compares the values. ``delabel`` returns
the values of an answer written with labels, and whether their order matters (several
distinct labels: ``x=1, y=2`` is the point (1, 2), not the set {1, 2}). A left side that
is not a name (``a + 3z = 0``, ``7 = 11a + c``) is an equation, never a label; nor is
``x = 2x - 3``, whose name occurs on the right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"(?:[A-Za-z]|\\(?:alpha|beta|gamma|delta|theta|lambda|mu|omega|phi|psi|rho|sigma|tau))(?:_\{?[A-Za-z0-9]+\}?)?'*"
_LABEL_RE = re.compile(
    rf"(?:{_NAME}(?:\([^()=]*\))?"  # x, a_{37}, f(x), P(A)
    rf"|\(\s*{_NAME}(?:\s*,\s*{_NAME})+\s*\)"  # (p, q)
    r"|\|[A-Z]{1,3}\|"  # |AB|
    r"|[A-Z]{2,4}"  # AB, ABC
    rf"|{_NAME}\s*:\s*{_NAME}"  # A:B, V_1:V_2, S_{MBCN}:S
    r"|\\frac\{[A-Z]{1,3}\}\{[A-Z]{1,3}\}"  # NO/BO
    r"|m?\\angle\s*[A-Z]{1,3})",
)
_LETTER_RE = re.compile(r"(?<![\\a-zA-Z])([a-zA-Z])(?![a-zA-Z])")
_MAX_ITEMS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Delabelled:
    """The values of a labelled answer; ``ordered`` when distinct labels fix positions.

    ``labels`` has one entry per item when every item carries its own label (compared by
    label when both sides have the same labels), else it is empty.
    """

    items: tuple[str, ...]
    ordered: bool
    labels: tuple[str, ...] = ()


def split_top(text: str, seps: str = ",;") -> list[str]:
    """Split at separators outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in seps and depth == 0 and not (i > 0 and text[i - 1] == "\\"):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _label_names(label: str) -> set[str]:
    """The single-letter names a label defines (not the arguments of ``f(x)``)."""
    head = re.sub(r"\([^()]*\)$", "", label) if not label.startswith("(") else label
    return {m.group(1) for m in _LETTER_RE.finditer(re.sub(r"_\{?[A-Za-z0-9]+\}?", "", head))}


def _value(item: str) -> tuple[str | None, str]:
    """(label, value) of one item; label None when the item is not ``label = value``.

    A chain ``x = 5 + 5 + 1 = 11`` gives its last value; so does a chain of constants
    (``5 + 5 + 1 = 11``), which states the value it computes.
    """
    sides = [s.strip() for s in re.split(r"(?<![<>!=\\])=(?!=)", item)]
    if len(sides) < 2 or not all(sides):
        return None, item
    label = sides[0]
    if _LABEL_RE.fullmatch(label):
        names = _label_names(label)
        if any(names & {m.group(1) for m in _LETTER_RE.finditer(s)} for s in sides[1:]):
            return None, item  # x = 2x - 3 is an equation in x
        return label, sides[-1]
    if not any(re.search(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", s)) for s in sides):
        return "", sides[-1]
    return None, item


def delabel(text: str) -> Delabelled | None:
    """The values of ``text`` when it is written with labels, else None.

    ``;`` separates solutions and ``,`` their parts (``p=5,q=2;p=7,q=2``); a label on the
    first item only covers the list (``x = 1, 2, 3``, ``a=4, -8, -10``).
    """
    groups = [g for g in split_top(text, ";") if g]
    if not groups or len(groups) > _MAX_ITEMS:
        return None
    values: list[str] = []
    all_labels: list[str] = []  # one key per item, "" for an unlabelled chain
    ordered = False
    changed = False
    for group in groups:
        items = split_top(group, ",")
        if len(items) > _MAX_ITEMS:
            return None
        parsed = [_value(item) for item in items]
        names = [label for label, _ in parsed]
        if all(label is None for label in names):
            values.append(group)
            continue
        changed = True
        if all(label is not None for label in names):
            distinct = len(set(names)) == len(names) > 1
            if distinct and len(groups) > 1:
                values.append("(" + ", ".join(v for _, v in parsed) + ")")
            else:
                values.extend(v for _, v in parsed)
                all_labels.extend(_key(label or "") for label, _ in parsed)
                ordered = ordered or distinct
        elif names[0] is not None and all(label is None for label in names[1:]):
            values.extend([parsed[0][1], *items[1:]])
        else:
            return None  # "x = 1, y" mixes labelled and bare parts: no reading is safe
    if not changed:
        return None
    single = len(groups) == 1
    labels = tuple(all_labels) if single and len(all_labels) == len(values) and all(all_labels) else ()
    return Delabelled(items=tuple(values), ordered=ordered and single, labels=labels)


def _key(label: str) -> str:
    """``a_{37}`` and ``a_37`` are one label."""
    return re.sub(r"[{}\s]", "", label)

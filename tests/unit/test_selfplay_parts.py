"""Static half of self-play puzzle admission (no sandbox): parsing, types, probes, solution
bodies and near-duplicates."""

from __future__ import annotations

import pytest

from verigen.selfplay import (
    NearDuplicates,
    PuzzleSyntaxError,
    extract_puzzle,
    fingerprint,
    parse_puzzle,
    probes,
    solution_body,
)
from verigen.verify.puzzle import answer_type_ok

PARSE_CASES = [
    # (text, stage of the refusal or None, answer type when admitted)
    ("def sat(x: int):\n    return x == 3", None, "int"),
    ("from typing import List\ndef sat(li: list[int], n=5):\n    return len(li) == n", None, "List[int]"),
    ("def sat(d: Dict[str, List[int]]):\n    return d", None, "Dict[str,List[int]]"),
    ("def sat(s: str, *, k: int = 2):\n    return s", None, "str"),
    ("def sat(x)\n    return True", "parse", None),
    ("def sat(x):\n    return True", "type", None),
    ("def sat(x: set):\n    return True", "type", None),
    ("def sat(x: Dict[int, int]):\n    return True", "type", None),
    ("def sat(x: int, y):\n    return True", "parse", None),
    ("def sat(x: int = 1):\n    return True", "parse", None),
    ("def sat(*x: int):\n    return True", "parse", None),
    ("import os\ndef sat(x: int):\n    return True", "parse", None),
    ("X = 1\ndef sat(x: int):\n    return x == X", "parse", None),
    ("def sat(x: int):\n    return True\ndef sol():\n    return 1", "parse", None),
    ("def solve(x: int):\n    return True", "parse", None),
    ("async def sat(x: int):\n    return True", "parse", None),
    ("@staticmethod\ndef sat(x: int):\n    return True", "parse", None),
    ("", "parse", None),
]


@pytest.mark.parametrize(("text", "stage", "ans_type"), PARSE_CASES)
def test_parse_puzzle(text: str, stage: str | None, ans_type: str | None) -> None:
    if stage is None:
        parsed = parse_puzzle(text)
        assert parsed.ans_type == ans_type
        assert "def sat" in parsed.sat
    else:
        with pytest.raises(PuzzleSyntaxError) as info:
            parse_puzzle(text)
        assert info.value.stage == stage


@pytest.mark.parametrize("ans_type", ["int", "float", "bool", "str", "List[int]", "List[List[str]]",
                                      "Dict[str,int]", "List[float]", "Dict[str,List[bool]]"])
def test_probes_have_the_type_and_are_reproducible(ans_type: str) -> None:
    values = probes(ans_type, (7, "abc", 2.5), seed="p:0")
    assert values == probes(ans_type, (7, "abc", 2.5), seed="p:0")
    assert values != probes(ans_type, (7, "abc", 2.5), seed="p:1") or ans_type == "bool"
    assert all(answer_type_ok(ans_type=ans_type, answer=v) for v in values)
    assert len({repr(v) for v in values}) == len(values)


def test_probes_cover_small_empty_and_source_constants() -> None:
    ints = probes("int", (12345, -77), seed="s")
    assert {0, 1, -1, 2, 12345, -77} <= set(ints)  # type: ignore[arg-type]
    strs = probes("str", ("needle",), seed="s")
    assert {"", "a", "needle"} <= set(strs)  # type: ignore[arg-type]
    lists = probes("List[int]", (42,), seed="s")
    assert [] in lists and [0] in lists and [42] in lists
    assert probes("bool", (), seed="s")[:2] == [False, True]


BODY_CASES = [
    ("def sol():\n    return 5\n", "    return 5\n"),
    ("def sol():\n    '''doc'''\n    x = [1]\n    return x\n", "    '''doc'''\n    x = [1]\n    return x\n"),
    ("import math\n\ndef sol():\n    return math.floor(2.5)\n",
     "    import math\n    def sol():\n        return math.floor(2.5)\n    return sol()\n"),
    ("def sol(n=3):\n    return n\n", "    def sol(n=3):\n        return n\n    return sol()\n"),
    ("from typing import *\ndef sol():\n    return 1\n", "    return 1\n"),
    ("from math import *\ndef sol():\n    return 1\n", None),
    ("def sol(:\n", None),
]


@pytest.mark.parametrize(("code", "body"), BODY_CASES)
def test_solution_body(code: str, body: str | None) -> None:
    assert solution_body(code) == body
    if body is not None:
        compile("def sol():\n" + body, "body.py", "exec")


def test_near_duplicates_ignore_names_constants_and_docstrings() -> None:
    index = NearDuplicates(threshold=0.75)
    a = fingerprint("def sat(li: List[int], n=5):\n    '''doc'''\n    return len(li) == n and sum(li) == 17")
    b = fingerprint("def sat(xs: List[int], k=9):\n    return len(xs) == k and sum(xs) == 3")
    c = fingerprint("def sat(s: str):\n    return s.count('a') == 3 and s[::-1] == s and len(s) > 10")
    assert a is not None and b is not None and c is not None
    index.add("first", a)
    assert index.match(b) == ("first", 1.0)
    assert index.match(c) is None
    index.add("second", c)
    d = fingerprint("def sat(s: str):\n    return s.count('b') == 4 and s[::-1] == s and len(s) > 12 and s[0] == 'b'")
    assert d is not None
    hit = index.match(d)
    assert hit is not None and hit[0] == "second" and 0.75 <= hit[1] < 1.0
    assert fingerprint("def sat(:") is None


EXTRACT_CASES = [
    # real shapes of small-model completions (SmolLM2-135M, self-play round 0)
    ("```python\ndef sat(x: int):\n    return x == 3\n```\n\nA solution:\n```python\ndef sol():\n",
     "def sat(x: int):\n    return x == 3\n"),
    ("def sat(x: int, n=2) -> bool:\n    return x == n\n`", "def sat(x: int, n=2) -> bool:\n    return x == n\n"),
    ("Here it is:\ndef sat(s: str):\n    return s == 'a'\n```", "def sat(s: str):\n    return s == 'a'\n"),
    ("```python\nprint(1)\n```", "print(1)\n"),
    ("no code here at all", "no code here at all"),
]


@pytest.mark.parametrize(("text", "code"), EXTRACT_CASES)
def test_extract_puzzle(text: str, code: str) -> None:
    assert extract_puzzle(text) == code

"""The two-process function harness keeps in-process semantics where honest tests rely on
them: exceptions by class, in-place mutation of arguments, candidate objects held by the
tests (attributes read and set), functions passed as arguments, regex matches as truth
values, exact big ints, floats and container types, deep recursion. Each row: tests,
candidate, expected outcome, on every available backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from verigen.types import Outcome, Problem
from verigen.verify.code import CodeVerifier, TestSuite

A, R = Outcome.ACCEPTED, Outcome.REJECTED

CASES: list[tuple[str, str, str, Outcome]] = [
    # (id, tests (one snippet), candidate, outcome)
    ("exception by class", "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False",
     "def f(x):\n    raise ValueError('negative')\n", A),
    ("wrong exception class", "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False",
     "def f(x):\n    raise TypeError('negative')\n", R),
    ("own exception class is an Exception", "try:\n    f(-1)\nexcept Exception as e:\n    assert 'Bad' in str(e)",
     "class Bad(Exception):\n    pass\ndef f(x):\n    raise Bad('no')\n", A),
    ("SystemExit is not caught by except Exception", "try:\n    f(1)\nexcept Exception:\n    pass",
     "def f(x):\n    raise SystemExit(0)\n", R),
    ("in-place sort", "x = [3, 1, 2]\nf(x)\nassert x == [1, 2, 3]", "def f(a):\n    a.sort()\n", A),
    ("in-place dict update", "d = {}\nf(d)\nassert d == {'k': (1, 2)}", "def f(d):\n    d['k'] = (1, 2)\n", A),
    ("returned argument", "x = [2, 1]\nassert f(x) == [1, 2] and x == [1, 2]", "def f(a):\n    a.sort()\n    return a\n", A),
    ("objects built by the tests", "root = Node(1)\nroot.left = Node(2)\nroot.left.left = Node(3)\n"
     "assert height(root) == 3 and root.left.data == 2",
     "class Node:\n    def __init__(self, d):\n        self.data = d\n        self.left = None\n        self.right = None\n"
     "def height(n):\n    return 0 if n is None else 1 + max(height(n.left), height(n.right))\n", A),
    ("method call on a candidate object", "s = Stack()\ns.push(4)\ns.push(5)\nassert s.pop() == 5 and s.size() == 1",
     "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)\n"
     "    def pop(self):\n        return self.items.pop()\n    def size(self):\n        return len(self.items)\n", A),
    ("lambda argument", "assert f(lambda v: v * 2, 3) == 6", "def f(g, x):\n    return g(x)\n", A),
    ("builtin function argument", "assert f(len, 'abc') == 3 and f(int, '7') == 7", "def f(g, x):\n    return g(x)\n", A),
    ("regex match is true", "assert f('ab')\nassert not f('b')", "import re\ndef f(s):\n    return re.match('a', s)\n", A),
    ("regex match group", "assert f('ab').group(0) == 'a'", "import re\ndef f(s):\n    return re.match('a', s)\n", A),
    ("big int", "assert f() == 10 ** 5000 + 1", "def f():\n    return 10 ** 5000 + 1\n", A),
    ("float exact", "assert f() == 0.1 + 0.2", "def f():\n    return 0.30000000000000004\n", A),
    ("tuple is not list", "assert f() == (1, 2)", "def f():\n    return [1, 2]\n", R),
    ("sets, frozensets, tuple keys", "assert f() == {(1, 2): {3}, 'k': frozenset({4})}",
     "def f():\n    return {(1, 2): {3}, 'k': frozenset({4})}\n", A),
    ("bytes and complex", "assert f() == (b'\\x00x', 1 - 2j)", "def f():\n    return (b'\\x00x', 1 - 2j)\n", A),
    ("int subclass refused", "assert f() == 1", "class I(int):\n    pass\ndef f():\n    return I(1)\n", R),
    ("generator refused", "assert list(f()) == [1]", "def f():\n    yield 1\n", R),
    ("candidate prints", "assert f(2) == 4", "def f(x):\n    print('debug', x)\n    return x * x\n", A),
    ("deep recursion", "assert f(20000) == 20000",
     "import sys\nsys.setrecursionlimit(100000)\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n", A),
    ("module the tests take from the candidate", "assert f([1, 2]) == sys.getsizeof([1, 2])",
     "import sys\ndef f(x):\n    return sys.getsizeof(x)\n", A),
    ("keyword arguments and defaults", "assert f(1, b=3) == 4 and f(1) == 3", "def f(a, b=2):\n    return a + b\n", A),
    # Red team: a class of its own named like a builtin exception whose constructor needs
    # other arguments used to come back as the TypeError that constructor raised.
    ("own class named like UnicodeDecodeError is not a TypeError",
     "try:\n    f(1)\nexcept TypeError:\n    pass\nelse:\n    assert False",
     "class UnicodeDecodeError(Exception):\n    pass\ndef f(x):\n    raise UnicodeDecodeError('x')\n", R),
    ("StopIteration from the candidate is an error, not the end of a loop",
     "assert list(map(f, [1, 2])) == [1, 2]", "def f(x):\n    if x == 2:\n        raise StopIteration\n    return x\n", R),
    ("counter", "import collections\nassert f('aab') == collections.Counter({'a': 2, 'b': 1})",
     "import collections\ndef f(s):\n    return collections.Counter(s)\n", A),
]

BACKENDS = [pytest.param("bwrap", marks=pytest.mark.bwrap), pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(scope="module", params=BACKENDS)
def verifier(request: pytest.FixtureRequest) -> Iterator[CodeVerifier]:
    from verigen.sandbox import select

    probe = select.bwrap_unavailable_reason if request.param == "bwrap" else select.docker_unavailable_reason
    reason = probe()
    if reason is not None:
        skip_or_fail(request.param, reason)
    v = CodeVerifier(sandbox=request.param, scale_timeouts=False)
    yield v
    v.close()


@pytest.mark.parametrize(("tests", "candidate", "outcome"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_harness_semantics(verifier: CodeVerifier, tests: str, candidate: str, outcome: Outcome) -> None:
    suite = TestSuite(kind="function", tests=(tests,), timeout_s=10.0)
    verdict = verifier.verify(Problem(id="toy/semantics", task="toy", prompt="", reference=suite), candidate)
    assert verdict.outcome is outcome, verdict.detail


def test_the_trusted_prelude_wins_over_the_candidate(verifier: CodeVerifier) -> None:
    # HumanEval/38-style: the prompt defines a helper the tests call; a candidate that
    # redefines it to agree with its wrong answer still meets the prompt's own version.
    prefix = "def encode(s):\n    return s[::-1]\n\n\ndef decode(s):\n    \"\"\"Inverse of encode.\"\"\"\n"
    suite = TestSuite(kind="function", entry_point="decode", prefix=prefix,
                      tests=("assert decode(encode('abc')) == 'abc'",), timeout_s=5.0)
    problem = Problem(id="toy/prelude", task="toy", prompt="", reference=suite)
    honest = verifier.verify(problem, "    return s[::-1]\n")
    cheat = verifier.verify(problem, "def encode(s):\n    return s\n\ndef decode(s):\n    return s\n")
    assert (honest.outcome, cheat.outcome) == (A, R), (honest.detail, cheat.detail)

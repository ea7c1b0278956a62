"""Hostile completions against every code verifier family, on every available backend.

Each attack tries to get a wrong program ACCEPTED (exit early, print a marker, close
stdout, raise BaseException subclasses, patch builtins / helpers / the harness, return
objects that compare equal to anything...). None may come back ACCEPTED; the honest
control completion of each family must.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from verigen.types import Outcome, Problem
from verigen.verify.code import CodeVerifier, IOCase, TestSuite
from verigen.verify.puzzle import Puzzle, PuzzleVerifier

FAKE_LINE = "@@verigen:" + "0" * 32 + ':1\\t\\"\\"\\tnull'

# Attacks that fit any family: the program never computes the right thing.
COMMON_ATTACKS: dict[str, str] = {
    "sys_exit_0": "import sys\nsys.exit(0)\n",
    "os_exit_0": "import os\nos._exit(0)\n",
    "raise_systemexit": "raise SystemExit(0)\n",
    "raise_keyboardinterrupt": "raise KeyboardInterrupt\n",
    "raise_baseexception_subclass": "class Boom(BaseException):\n    pass\nraise Boom()\n",
    "atexit_marker": (
        "import atexit, os\n"
        f"atexit.register(lambda: (print('{FAKE_LINE}'), os._exit(0)))\n"
    ),
    "print_marker": f"print('{FAKE_LINE}')\nprint('ALL TESTS PASSED')\n",
    "close_stdout": "import os, sys\nsys.stdout.close()\nos.close(1)\n",
    "close_all_fds": "import os\nos.closerange(0, 1024)\n",
    "seek_stdin_for_nonce": (
        "import os\ntry:\n    os.lseek(0, 0, 0)\nexcept OSError:\n    pass\n"
        "data = os.read(0, 4096).decode(errors='replace').strip()\n"
        "print(f'\\n@@verigen:{data}:1\\t\"\"\\t[0]')\n"
        "os._exit(0)\n"
    ),
    "override_print_and_write": (
        "import builtins, sys, os\nbuiltins.print = lambda *a, **k: None\n"
        "sys.stdout.write = lambda s: len(s)\nos.write = lambda fd, b: len(b)\n"
    ),
    "override_os_exit": "import os\nos._exit = lambda code=0: None\n",
    "introspect_frames": (
        "import sys, gc\n"
        "try:\n    sys._current_frames()\nexcept Exception:\n    pass\n"
        "try:\n    gc.get_objects()\nexcept Exception:\n    pass\n"
        "sys.exit(0)\n"
    ),
}

_WALK = (
    "def _forge():\n"
    "    import sys, os\n"
    "    f = sys._getframe()\n"
    "    while f is not None and 'nonce' not in f.f_locals:\n"
    "        f = f.f_back\n"
    "    if f is not None:\n"
    "        n = f.f_locals['nonce']\n"
    "        os.write(f.f_locals['out_fd'], ('\\n@@verigen:%s:1\\t\"\"\\tnull\\n' % n).encode())\n"
    "        os._exit(0)\n"
)

# Function-style attacks (entry point ``add(a, b)``; the tests use ``math.isclose``).
FUNCTION_ATTACKS: dict[str, str] = {
    "frame_walk_to_nonce": _WALK + "_forge()\ndef add(a, b):\n    _forge()\n    return 0\n",
    "frame_walk_from_traceback": (
        "def add(a, b):\n    import os\n    try:\n        raise ValueError\n    except ValueError as e:\n"
        "        f = e.__traceback__.tb_frame\n    while f is not None and 'nonce' not in f.f_locals:\n"
        "        f = f.f_back\n    os.write(f.f_locals['out_fd'], b'x')\n    return 0\n"
    ),
    "frame_walk_from_del": (
        "import gc\n" + _WALK + "class D:\n    def __del__(self):\n        _forge()\n"
        "def add(a, b):\n    gc.enable()\n    d = D(); d.me = d\n    del d\n    return 0\n"
    ),
    "audit_hook_on_main_thread": (
        _WALK + "import sys\nsys.addaudithook(lambda e, a: _forge() if e == 'exec' else None)\n"
        "def add(a, b):\n    return 0\n"
    ),
    "background_thread_forges": (
        "import threading, time\n" + _WALK +
        "def add(a, b):\n    threading.Thread(target=lambda: (time.sleep(0.05), _forge())).start()\n    return 0\n"
    ),
    "fake_reply_in_outbox": (
        "import sys\ndef add(a, b):\n    f = sys._getframe(1)\n    box = f.f_locals.get('outbox')\n"
        "    class E:\n        def __eq__(s, o):\n            return True\n"
        "    if box is not None:\n        box.put((0, E()))\n    return 0\n"
    ),
    "swap_module_class": (
        "import math, types\nclass M(types.ModuleType):\n    def __getattribute__(s, n):\n"
        "        return lambda *a, **k: True\nmath.__class__ = M\ndef add(a, b):\n    return 0\n"
    ),
    "evict_module_and_hook_import": (
        "import sys\nclass F:\n    def find_spec(self, *a, **k):\n        raise SystemExit(0)\n"
        "sys.meta_path.insert(0, F())\nsys.modules.pop('math', None)\ndef add(a, b):\n    return 0\n"
    ),
    "hostile_global_key": (
        "class K(str):\n    def __hash__(self):\n        return hash('add')\n"
        "    def __eq__(self, o):\n        return True\n"
        "globals()[K('zzz')] = lambda a, b: 0\ndef add(a, b):\n    return 0\n"
    ),
    "patch_counter_eq": (
        "import collections\ncollections.Counter.__eq__ = lambda s, o: True\n"
        "def add(a, b):\n    return collections.Counter()\n"
    ),
    "always_equal": "class E:\n    def __eq__(self, o):\n        return True\n    __hash__ = None\n"
                    "def add(a, b):\n    return E()\n",
    "always_equal_in_list": "class E:\n    def __eq__(self, o):\n        return True\n"
                            "def add(a, b):\n    return [E()][0] if False else E()\n",
    "int_subclass_eq": "class I(int):\n    def __eq__(self, o):\n        return True\n"
                       "    def __sub__(self, o):\n        return 0\ndef add(a, b):\n    return I(0)\n",
    "raise_systemexit_in_fn": "def add(a, b):\n    raise SystemExit(0)\n",
    "raise_baseexception_in_fn": "class B(BaseException):\n    pass\ndef add(a, b):\n    raise B()\n",
    "patch_builtins_exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\n"
                           "def add(a, b):\n    return 0\n",
    "patch_builtins_type_then_eq": (
        "import builtins\n_t = builtins.type\n"
        "class E:\n    def __eq__(self, o):\n        builtins.type = _t\n        return True\n"
        "builtins.type = lambda x: int\ndef add(a, b):\n    return E()\n"
    ),
    "patch_math_isclose": "import math\nmath.isclose = lambda *a, **k: True\n"
                          "def add(a, b):\n    return 0\n",
    "shadow_builtin_name": "def abs(x):\n    return 0\ndef add(a, b):\n    return 0\n",
    "redefine_trusted_helper": "def double(x):\n    return 6\ndef add(a, b):\n    return 0\n",
    "define_check": "def check(candidate):\n    pass\ndef add(a, b):\n    return 0\n",
    "patch_harness_module": (
        "import sys\nm = sys.modules.get('__main__')\n"
        "for k in ('is_plain', '_untouched'):\n    setattr(m, k, lambda *a, **k: True)\n"
        "class E:\n    def __eq__(self, o):\n        return True\n"
        "def add(a, b):\n    return E()\n"
    ),
    "hostile_exception_str": "class X(Exception):\n    def __str__(self):\n        import os\n"
                             "        os._exit(0)\ndef add(a, b):\n    raise X()\n",
}

PUZZLE_ATTACKS: dict[str, str] = {
    "bool_for_int": "def sol():\n    return True\n",
    "float_for_int": "def sol():\n    return 7.0\n",
    "int_subclass": "class I(int):\n    def __eq__(self, o):\n        return True\ndef sol():\n    return I(1)\n",
    "always_equal": "class E:\n    def __eq__(self, o):\n        return True\ndef sol():\n    return E()\n",
    "patch_sat_in_candidate": "import builtins\nbuiltins.sat = lambda x: True\n"
                              "def sat(x):\n    return True\ndef sol():\n    return 1\n",
    "wrong_answer": "def sol():\n    return 8\n",
}

HONEST_FUNCTION = "def add(a, b):\n    return a + b\n"
HONEST_STDIO = "a, b = map(int, input().split())\nprint(a + b)\n"
HONEST_PUZZLE = "def sol():\n    return 7\n"

FUNCTION_SUITE = TestSuite(
    kind="function",
    entry_point="add",
    prefix='def double(x):\n    return 2 * x\n\n\ndef add(a, b):\n    """Sum of a and b."""\n',
    setup="import math\n\ndef check(candidate):\n    assert candidate(1, 2) == 3\n"
          "    assert math.isclose(candidate(0.5, 0.25), 0.75)\n"
          "    assert abs(candidate(-1, 1)) == 0\n    assert double(candidate(2, 1)) == 6\n",
    tests=("check(add)",),
    timeout_s=3.0,
)
MBPP_SUITE = TestSuite(
    kind="function",
    entry_point="add",
    tests=("assert add(1, 2) == 3", "assert math.isclose(add(0.5, 0.25), 0.75)",
           "assert abs(add(-1, 1)) == 0"),
    setup="import math",
    timeout_s=3.0,
)
STDIO_SUITE = TestSuite(kind="stdio", cases=(IOCase(input="1 2\n", output="3\n"),
                                             IOCase(input="5 7\n", output="12\n")), timeout_s=3.0)
CALL_SUITE = TestSuite(kind="call", entry_point="add",
                       cases=(IOCase(input="[1, 2]", output="[3]"), IOCase(input="[2, 2]", output="[4]")),
                       timeout_s=3.0)
PUZZLE = Puzzle(name="Seven:0", sat="def sat(x: int):\n    return x * 3 == 21 and x == 7", ans_type="int",
                sol_bodies=("    return 7",), timeout_s=3.0, sat_timeout_s=3.0)


def _backend(name: str) -> str:
    from verigen.sandbox import select

    probe = select.bwrap_unavailable_reason if name == "bwrap" else select.docker_unavailable_reason
    reason = probe()
    if reason is not None:
        skip_or_fail(name, reason)
    return name


BACKENDS = [pytest.param("bwrap", marks=pytest.mark.bwrap), pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(scope="module", params=BACKENDS)
def code_verifier(request: pytest.FixtureRequest) -> Iterator[CodeVerifier]:
    verifier = CodeVerifier(sandbox=_backend(request.param), scale_timeouts=False)
    yield verifier
    verifier.close()


@pytest.fixture(scope="module", params=BACKENDS)
def puzzle_verifier(request: pytest.FixtureRequest) -> Iterator[PuzzleVerifier]:
    verifier = PuzzleVerifier(sandbox=_backend(request.param), scale_timeouts=False)
    yield verifier
    verifier.close()


def _problem(suite: object, pid: str = "toy/add") -> Problem[object]:
    return Problem(id=pid, task="toy", prompt="", reference=suite)


SUITES = {"humaneval_like": FUNCTION_SUITE, "mbpp_like": MBPP_SUITE, "stdio": STDIO_SUITE, "call": CALL_SUITE}
HONEST = {"humaneval_like": HONEST_FUNCTION, "mbpp_like": HONEST_FUNCTION, "stdio": HONEST_STDIO,
          "call": HONEST_FUNCTION}


@pytest.mark.parametrize("family", sorted(SUITES))
def test_honest_control_is_accepted(code_verifier: CodeVerifier, family: str) -> None:
    verdict = code_verifier.verify(_problem(SUITES[family]), HONEST[family])
    assert verdict.outcome is Outcome.ACCEPTED, verdict.detail


@pytest.mark.parametrize("family", sorted(SUITES))
@pytest.mark.parametrize("attack", sorted(COMMON_ATTACKS) + sorted(FUNCTION_ATTACKS))
def test_attack_is_never_accepted(code_verifier: CodeVerifier, family: str, attack: str) -> None:
    code = COMMON_ATTACKS.get(attack) or FUNCTION_ATTACKS[attack]
    verdict = code_verifier.verify(_problem(SUITES[family]), f"```python\n{code}```")
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), (attack, verdict)


def test_puzzle_honest_control_is_accepted(puzzle_verifier: PuzzleVerifier) -> None:
    verdict = puzzle_verifier.verify(_problem(PUZZLE, "p3/Seven:0"), HONEST_PUZZLE)
    assert verdict.outcome is Outcome.ACCEPTED, verdict.detail
    assert verdict.answer == "7"


@pytest.mark.parametrize("attack", sorted(COMMON_ATTACKS) + sorted(PUZZLE_ATTACKS))
def test_puzzle_attack_is_never_accepted(puzzle_verifier: PuzzleVerifier, attack: str) -> None:
    code = COMMON_ATTACKS.get(attack) or PUZZLE_ATTACKS[attack]
    verdict = puzzle_verifier.verify(_problem(PUZZLE, "p3/Seven:0"), code)
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), (attack, verdict)


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



# ---------------------------------------------------------------- attacks on the two-process design
# Written from the attack classes of the function-harness review (issue 7): each would have
# forged a pass, read the tests, or turned a wrong answer into ERROR against a harness that
# shares a process with the candidate. None may be ACCEPTED, and none may become ERROR.

FORGED = '{"v":1,"passed":1,"total":1,"why":"","payload":[3,4],"fault":null}\\n'
_FORGE_EVERYWHERE = (
    "import os\n"
    "def _forge():\n"
    f"    line = {FORGED!r}.encode()\n"
    "    for fd in range(0, 512):\n"
    "        try:\n            os.write(fd, line)\n        except OSError:\n            pass\n"
    "    for pid in os.listdir('/proc'):\n"
    "        if not pid.isdigit():\n            continue\n"
    "        for n in range(0, 8):\n"
    "            try:\n"
    "                with open(f'/proc/{pid}/fd/{n}', 'wb', buffering=0) as fh:\n"
    "                    fh.write(line)\n"
    "            except OSError:\n                pass\n"
)

NEW_ATTACKS: dict[str, str] = {
    # Patch what a trusted side would call after the candidate ran; define no function.
    "patch_library_code_no_function": (
        _FORGE_EVERYWHERE +
        "import builtins, json, json.encoder, typing, sys\n"
        "json.JSONEncoder.iterencode = lambda self, o, _one_shot=False: iter([_forge() or ''])\n"
        "json.dumps = lambda *a, **k: (_forge(), '')[1]\n"
        "builtins.isinstance = lambda *a: (_forge(), True)[1]\n"
        "typing.List = type('L', (), {'__class_getitem__': classmethod(lambda c, i: _forge())})\n"
        "sys.modules['json'] = json\n"
        "_forge()\n"
    ),
    # Find the report channel by inode, dup2 a pipe over it, and have a forked helper write
    # a forged report during the exit grace period.
    "dup2_over_stdout_and_helper_prints_late": (
        _FORGE_EVERYWHERE +
        "import stat, time, sys\n"
        "r, w = os.pipe()\n"
        "for fd in range(0, 64):\n"
        "    try:\n        st = os.fstat(fd)\n    except OSError:\n        continue\n"
        "    if stat.S_ISFIFO(st.st_mode) and fd not in (r, w):\n"
        "        keep = os.dup(fd)\n        os.dup2(w, fd)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n    time.sleep(0.1)\n    _forge()\n    os._exit(0)\n"
        "_forge()\n"
        "def add(a, b):\n    _forge()\n    os._exit(0)\n"
    ),
    # Native code in the candidate's process: make it dumpable, then reach for the other
    # processes' memory and fds (ptrace, /proc/<pid>/mem, a str-subclass path).
    "native_dumpable_ptrace_proc_mem": (
        _FORGE_EVERYWHERE +
        "import ctypes, re\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.prctl(4, 1, 0, 0, 0)\n"
        "class P(str):\n    pass\n"
        "for pid in os.listdir('/proc'):\n"
        "    if not pid.isdigit() or int(pid) == os.getpid():\n        continue\n"
        "    libc.ptrace(16, int(pid), None, None)\n"
        "    try:\n"
        "        with open(P(f'/proc/{pid}/mem'), 'rb') as fh:\n            fh.read(16)\n"
        "        _forge()\n"
        "    except OSError:\n        pass\n"
        "_forge()\n"
        "def add(a, b):\n    return 0\n"
    ),
    # os._exit with the old harness's fault code, and with others, in the module body.
    "os_exit_97": "import os\nos._exit(97)\n",
    "os_exit_125": "import os\nos._exit(125)\n",
    "os_exit_97_in_call": "import os\ndef add(a, b):\n    os._exit(97)\n",
    # Break the cleanup: a 3,000-deep directory chain in the work dir and in /tmp.
    "deep_directory_chain": (
        "import os\n"
        "for base in (os.getcwd(), '/tmp'):\n"
        "    os.chdir(base)\n"
        "    for i in range(3000):\n        os.mkdir('d')\n        os.chdir('d')\n"
        "def add(a, b):\n    return 0\n"
    ),
    # Kill (or stop) every other process in reach: the trusted side, the zygote, the runner.
    "kill_every_other_process": (
        "import os, signal\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() and int(pid) != os.getpid():\n"
        "        try:\n            os.kill(int(pid), signal.SIGKILL)\n        except OSError:\n            pass\n"
        "def add(a, b):\n    return 0\n"
    ),
    # Talk on the channel itself: garbage, an absurd length, a reply out of turn.
    "garbage_on_the_channel": (
        "import os, struct, json\n"
        "for fd in (3, 4):\n"
        "    for data in (b'\\x00\\x00\\x00\\x05{{{{{', struct.pack('>I', 1 << 31),\n"
        "                 struct.pack('>I', 40) + json.dumps({'id': 1, 'ok': {}})[:40].encode()):\n"
        "        try:\n            os.write(fd, data)\n        except OSError:\n            pass\n"
        "def add(a, b):\n    return 0\n"
    ),
    # The runner, the zygote and the trusted side share the program's uid: lower their
    # rlimits (RLIMIT_CPU kills the runner: a forged infrastructure fault), their priority.
    "sabotage_the_runners_limits": (
        "import os, resource\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit() and int(pid) != os.getpid():\n"
        "        for res, v in ((resource.RLIMIT_CPU, 1), (resource.RLIMIT_AS, 16 << 20),\n"
        "                       (resource.RLIMIT_NOFILE, 3), (resource.RLIMIT_NPROC, 0)):\n"
        "            try:\n                resource.prlimit(int(pid), res, (v, v))\n"
        "            except (OSError, ValueError):\n                pass\n"
        "        for which in (os.PRIO_PROCESS, os.PRIO_PGRP, os.PRIO_USER):\n"
        "            try:\n                os.setpriority(which, 0 if which == os.PRIO_USER else int(pid), 19)\n"
        "            except OSError:\n                pass\n"
        "def add(a, b):\n    return 0\n"
    ),
    "deeply_nested_result": (
        "def add(a, b):\n    x = []\n    for _ in range(200000):\n        x = [x]\n    return x\n"
    ),
    # Pin memory outside the process's address-space limit, in SysV shared memory.
    "pin_memory_in_sysv_shm": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\n"
        "for i in range(6):\n"
        "    shm = libc.shmget(0x7A000 + i, 256 << 20, 0o1000 | 0o600)\n"
        "    addr = libc.shmat(shm, None, 0)\n"
        "    if addr not in (None, ctypes.c_void_p(-1).value):\n"
        "        ctypes.memset(addr, 1, 256 << 20)\n        libc.shmdt(ctypes.c_void_p(addr))\n"
        "def add(a, b):\n    return 0\n"
    ),
}


@pytest.mark.parametrize("family", sorted(SUITES))
@pytest.mark.parametrize("attack", sorted(NEW_ATTACKS))
def test_new_attack_is_neither_accepted_nor_error(code_verifier: CodeVerifier, family: str, attack: str) -> None:
    verdict = code_verifier.verify(_problem(SUITES[family]), f"```python\n{NEW_ATTACKS[attack]}```")
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), (attack, verdict)


@pytest.mark.parametrize("attack", sorted(NEW_ATTACKS))
def test_new_attack_on_puzzles_is_neither_accepted_nor_error(puzzle_verifier: PuzzleVerifier, attack: str) -> None:
    code = NEW_ATTACKS[attack].replace("def add(a, b):", "def sol():")
    verdict = puzzle_verifier.verify(_problem(PUZZLE, "p3/Seven:0"), code)
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), (attack, verdict)


def test_stopping_the_trusted_side_is_a_timeout(code_verifier: CodeVerifier) -> None:
    code = ("import os, signal\n"
            "for pid in os.listdir('/proc'):\n"
            "    if pid.isdigit() and int(pid) != os.getpid():\n"
            "        try:\n            os.kill(int(pid), signal.SIGSTOP)\n        except OSError:\n            pass\n"
            "def add(a, b):\n    return a + b\n")
    suite = TestSuite(kind="function", entry_point="add", tests=("assert add(1, 2) == 3",), timeout_s=1.0)
    verdict = code_verifier.verify(_problem(suite, "toy/stop"), code)
    assert verdict.outcome in (Outcome.TIMEOUT, Outcome.REJECTED), verdict


# The tests hold a secret the candidate must find to pass (a lookup table built from the
# test job, wherever it may be: files, other processes, its own memory).
SECRET_HUNT = r'''
import ctypes, gc, os, re, time
PATTERN = re.compile(rb"SECRET[0-9a-f]{32}")
found = []
STOP = time.monotonic() + 8
def scan(data):
    if time.monotonic() < STOP:
        found.extend(m.group().decode() for m in PATTERN.finditer(data))
def late():
    return time.monotonic() >= STOP  # the hunt reads nothing more after its budget
def scan_file(path, limit=1 << 22):
    if late():
        return
    try:
        if not os.path.isfile(path):  # never a pipe or a socket: a read could block
            return
        with open(path, "rb") as fh:
            scan(fh.read(limit))
    except OSError:
        pass
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    for part in ("cmdline", "environ"):
        scan_file(f"/proc/{pid}/{part}")
    for fd in range(16):
        scan_file(f"/proc/{pid}/fd/{fd}")
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        with open(f"/proc/{pid}/mem", "rb") as mem:
            for line in maps:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                if "r" in line.split()[1] and hi - lo < 1 << 26 and not late():
                    try:
                        mem.seek(lo)
                        scan(mem.read(hi - lo))
                    except (OSError, OverflowError, ValueError):
                        pass
    except OSError:
        pass
for base in (os.getcwd(), "/tmp", "/dev/shm", "/opt", "/run", "/var", "/home", "/root", "/etc"):
    for root, dirs, files in os.walk(base) if not late() else ():
        for name in files:
            scan_file(os.path.join(root, name))
for obj in gc.get_objects() if not late() else ():
    for value in (obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()):
        if isinstance(value, str):
            scan(value.encode("utf-8", "replace"))
ANSWER = next((f for f in found if f != "SECRET" + "0" * 32), "nothing")
def answer(a, b):
    return ANSWER
'''


@pytest.mark.parametrize("family", ["humaneval_like", "mbpp_like", "puzzle"])
def test_the_tests_are_not_readable_by_the_candidate(
    code_verifier: CodeVerifier, puzzle_verifier: PuzzleVerifier, family: str
) -> None:
    import secrets

    secret = "SECRET" + secrets.token_hex(16)
    if family == "puzzle":
        puzzle = Puzzle(name="Hunt:0", sat=f"def sat(x: str):\n    return x == {secret!r}", ans_type="str",
                        timeout_s=30.0, sat_timeout_s=5.0)
        verdict = puzzle_verifier.verify(_problem(puzzle, "p3/Hunt:0"),
                                         SECRET_HUNT + "def sol():\n    return ANSWER\n")
    else:
        setup = f"def check(candidate):\n    assert candidate(1, 2) == {secret!r}\n"
        suite = (TestSuite(kind="function", entry_point="answer", setup=setup, tests=("check(answer)",), timeout_s=30.0)
                 if family == "humaneval_like" else
                 TestSuite(kind="function", entry_point="answer", tests=(f"assert answer(1, 2) == {secret!r}",),
                           timeout_s=30.0))
        verdict = code_verifier.verify(_problem(suite, f"toy/hunt-{family}"), SECRET_HUNT)
    assert verdict.outcome is Outcome.REJECTED, verdict
    assert secret not in (verdict.detail or "") and secret not in (verdict.answer or "")


def test_call_based_int_needs_an_int(code_verifier: CodeVerifier) -> None:
    suite = TestSuite(kind="call", entry_point="f", timeout_s=3.0,
                      cases=(IOCase(input="[10]", output="[1000000000000]"), IOCase(input="[3]", output="[27]")))
    close = "def f(n):\n    return n ** 12 * (1 + 1e-9) if n == 10 else float(n ** 3)\n"
    assert code_verifier.verify(_problem(suite, "toy/int"), close).outcome is Outcome.REJECTED
    exact = "def f(n):\n    return n ** 12 if n == 10 else n ** 3\n"
    assert code_verifier.verify(_problem(suite, "toy/int"), exact).outcome is Outcome.ACCEPTED


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("poison", ["deep_directory_chain", "pin_memory_in_sysv_shm", "kill_every_other_process",
                                    "sabotage_the_runners_limits"])
def test_a_poisoned_runner_never_fails_the_next_honest_programs(poison: str, backend: str) -> None:
    from verigen.sandbox.select import open_sandbox

    # One warm runner: the honest programs run where the poison ran.
    sandbox = open_sandbox(_backend(backend), workers=1)
    verifier = CodeVerifier(sandbox=sandbox, scale_timeouts=False)
    try:
        maze = ("import os\nos.chdir('/tmp')\nfor i in range(400):\n    os.mkdir('m')\n    os.chmod('.', 0o700)\n"
                "    os.chdir('m')\nopen('f', 'wb').write(b'x' * (8 << 20))\n"
                "for i in range(400):\n    os.chdir('..')\n    os.chmod('m', 0)\n")
        for attack in (NEW_ATTACKS[poison], maze):
            bad = verifier.verify(_problem(MBPP_SUITE), attack)
            assert bad.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), bad
            honest = [verifier.verify(_problem(MBPP_SUITE), HONEST_FUNCTION).outcome for _ in range(6)]
            assert honest == [Outcome.ACCEPTED] * 6
    finally:
        verifier.close()
        sandbox.close()


# A model-written sat (self-play) is untrusted code: with sat_trusted=False it runs as the
# candidate in the peer, so a sat that tries to forge the trusted side's report, or returns
# a truthy non-True value, is REJECTED; an honest one still verifies.
_FORGING_SAT = _FORGE_EVERYWHERE + "\ndef sat(x: int):\n    _forge()\n    return False\n"
UNTRUSTED_SATS = {
    "forges_the_report": (_FORGING_SAT, Outcome.REJECTED),
    "truthy_not_true": ("def sat(x: int):\n    return 1\n", Outcome.REJECTED),
    "raises": ("def sat(x: int):\n    raise ValueError(x)\n", Outcome.REJECTED),
    "exits": ("import os\ndef sat(x: int):\n    os._exit(97)\n", Outcome.REJECTED),
    "honest": ("def sat(x: int):\n    return x * 3 == 21\n", Outcome.ACCEPTED),
}


@pytest.mark.parametrize("case", sorted(UNTRUSTED_SATS))
def test_an_untrusted_sat_runs_as_candidate_code(puzzle_verifier: PuzzleVerifier, case: str) -> None:
    sat, expected = UNTRUSTED_SATS[case]
    puzzle = Puzzle(name="Model:0", sat=sat, ans_type="int", timeout_s=3.0, sat_timeout_s=3.0, sat_trusted=False)
    verdict = puzzle_verifier.verify(_problem(puzzle, "selfplay/Model:0"), "def sol():\n    return 7\n")
    assert verdict.outcome is expected, (case, verdict)


# ---------------------------------------------------------------- red-team round (forged names, trusted iteration, exhaustion)
# Each was written against the harness as it stood; the ones marked "got through" forged a
# pass or an ERROR before the fix named in sandboxes/README.md's threat model.

# Got through: the candidate patches the peer's ``send`` and adds ``__builtins__`` to the
# name table; the trusted side bound it in the test namespace, so the tests ran with
# builtins of the candidate's choosing (plain data can hold builtin *types*:
# ``set = sorted = all = len = bool`` makes ``set(f(x)) == set(y)`` True == True).
_FAKE_BUILTINS = (
    "import sys\n"
    "h = sys.modules['__main__']\n"
    "_send = h.send\n"
    "def send(fd, obj):\n"
    "    if isinstance(obj, dict) and isinstance(obj.get('ok'), dict):\n"
    "        fake = {n: bool for n in ('set', 'sorted', 'all', 'any', 'len', 'map', 'list', 'isinstance')}\n"
    "        for key in ('__builtins__', '__name__', '__annotations__', 'not an identifier', 'set'):\n"
    "            obj['ok'][key] = ['val', h.encode(fake)]\n"
    "    _send(fd, obj)\n"
    "h.send = send\n"
)
WRAPPED_SUITE = TestSuite(
    kind="function", entry_point="pair",
    tests=("assert set(pair(1, 2)) == set([1, 2])", "assert sorted(pair(3, 1)) == sorted([3, 1])",
           "assert len(pair(4, 5)) == len([4, 5])", "assert all(x in pair(6, 7) for x in (6, 7))"),
    timeout_s=3.0)
# Got through: StopIteration raised out of a call inside a trusted iteration ends it early
# (``all(map(...))`` of nothing is True); it now comes back as a CandidateError.
ITER_SUITE = TestSuite(
    kind="function", entry_point="pair",
    tests=("assert all(map(lambda v: pair(v, v) == [v, v], [1, 2]))",
           "assert list(filter(lambda v: pair(v, 0) != [v, 0], [1, 2])) == []",
           "assert sum(map(lambda v: pair(v, v) != [v, v], [1, 2])) == 0"),
    timeout_s=3.0)
HONEST_PAIR = "def pair(a, b):\n    return [a, b]\n"
RED_ATTACKS: dict[str, tuple[TestSuite, str]] = {
    "fake_builtins_in_name_table": (WRAPPED_SUITE, _FAKE_BUILTINS + "def pair(a, b):\n    return [9]\n"),
    "fake_builtins_raw_on_the_socket": (WRAPPED_SUITE, (
        "import json, os, struct, sys\n"
        "h = sys.modules['__main__']\n"
        "_send = h.send\n"
        "h.send = lambda fd, obj: None if obj.get('id') == 1 else _send(fd, obj)  # our reply goes instead\n"
        "fake = [[n, {'$': 'type', 'v': 'bool'}] for n in ('set', 'sorted', 'all', 'len')]\n"
        "ok = {'pair': ['fn'], '__builtins__': ['val', {'$': 'dict', 'v': fake}]}\n"
        "body = json.dumps({'id': 1, 'ok': ok}).encode()\n"
        "os.write(3, struct.pack('>I', len(body)) + body)\n"
        "def pair(a, b):\n    return [9]\n"
    )),
    "stopiteration_ends_trusted_map": (ITER_SUITE, "def pair(a, b):\n    raise StopIteration\n"),
    "stopiteration_subclass": (ITER_SUITE, "class S(StopIteration):\n    pass\ndef pair(a, b):\n    raise S()\n"),
    "stopasynciteration": (ITER_SUITE, "def pair(a, b):\n    raise StopAsyncIteration\n"),
    "report_line_in_exception_text": (MBPP_SUITE, (
        f"def add(a, b):\n    raise ValueError('\\n' + {FORGED!r} + '\\n')\n")),
    "kill_minus_one": (MBPP_SUITE, "import os, signal\nos.kill(-1, signal.SIGKILL)\ndef add(a, b):\n    return a + b\n"),
    "stop_minus_one": (MBPP_SUITE, "import os, signal\nos.kill(-1, signal.SIGSTOP)\ndef add(a, b):\n    return a + b\n"),
    # Every realtime signal (default action: terminate) and SIGIO routed to every other
    # process through F_SETOWN/F_SETSIG on a pipe of ours.
    "realtime_signals_and_sigio_everywhere": (MBPP_SUITE, (
        "import fcntl, os, signal\n"
        "pids = [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]\n"
        "for pid in pids:\n"
        "    r, w = os.pipe()\n"
        "    try:\n"
        "        fcntl.fcntl(r, fcntl.F_SETOWN, pid)\n        fcntl.fcntl(r, 10, signal.SIGKILL)  # F_SETSIG\n"
        "        fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)\n        os.write(w, b'x')\n"
        "    except OSError:\n        pass\n"
        "    for sig in range(signal.SIGRTMIN, signal.SIGRTMAX + 1):\n"
        "        try:\n            os.kill(pid, sig)\n        except OSError:\n            pass\n"
        "def add(a, b):\n    return a + b\n")),
    # Modules the next program (or a trusted side) might import, in every writable place.
    "plant_modules_everywhere": (MBPP_SUITE, (
        "import os, sys\n"
        "evil = 'import os\\nos._exit(0)\\n'\n"
        "for d in {os.getcwd(), '/tmp', '/dev/shm', '/opt/verigen', *sys.path}:\n"
        "    for name in ('sitecustomize.py', 'usercustomize.py', 'evil.pth', 'json.py', 'math.py', 'typing.py',\n"
        "                 'collections.py', 'harness.py', 'runner.py'):\n"
        "        try:\n"
        "            os.makedirs(os.path.join(d, '__pycache__'), exist_ok=True)\n"
        "            open(os.path.join(d, name), 'w').write(evil)\n"
        "        except OSError:\n            pass\n"
        "os.environ['PYTHONSTARTUP'] = '/tmp/sitecustomize.py'\n"
        "def add(a, b):\n    return 0\n")),
    # The trusted side decodes a set of 200,000 ints with one hash: quadratic, its own
    # timeout, never ERROR.
    "colliding_hashes_for_the_trusted_side": (MBPP_SUITE, (
        "def add(a, b):\n    m = (1 << 61) - 1\n    return {m * k for k in range(1, 200000)}\n")),
}


@pytest.mark.parametrize("family", ["wrapped", "iteration"])
def test_red_team_honest_controls(code_verifier: CodeVerifier, family: str) -> None:
    suite = WRAPPED_SUITE if family == "wrapped" else ITER_SUITE
    verdict = code_verifier.verify(_problem(suite, f"toy/{family}"), HONEST_PAIR)
    assert verdict.outcome is Outcome.ACCEPTED, verdict.detail


@pytest.mark.parametrize("attack", sorted(RED_ATTACKS))
def test_red_team_attack_is_neither_accepted_nor_error(code_verifier: CodeVerifier, attack: str) -> None:
    suite, code = RED_ATTACKS[attack]
    verdict = code_verifier.verify(_problem(suite, f"toy/red-{attack}"), f"```python\n{code}```")
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), (attack, verdict)


@pytest.mark.parametrize("family", sorted(SUITES))
@pytest.mark.parametrize("attack", ["kill_minus_one", "stop_minus_one", "report_line_in_exception_text"])
def test_red_team_signals_and_mimicry_in_every_family(code_verifier: CodeVerifier, family: str, attack: str) -> None:
    code = RED_ATTACKS[attack][1]
    verdict = code_verifier.verify(_problem(SUITES[family]), f"```python\n{code}```")
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), (attack, verdict)


def test_call_based_huge_int_against_a_float_is_rejected(code_verifier: CodeVerifier) -> None:
    # Got through (as a crash of the verifier, not a verdict): math.isclose(0.5, 10 ** 400)
    # raised OverflowError on the host.
    suite = TestSuite(kind="call", entry_point="f", cases=(IOCase(input="[1]", output="[0.5]"),), timeout_s=3.0)
    verdict = code_verifier.verify(_problem(suite, "toy/huge"), "def f(x):\n    return 10 ** 400\n")
    assert verdict.outcome is Outcome.REJECTED, verdict


# Got through on docker (nano_cpus=1): 60 busy children share the container's one CPU with
# the runner, which then needed ~20 s to encode a 60 MiB response: the host's deadline
# passed and the candidate's failure became a sandbox ERROR. The runner now kills every
# process of the program before it builds the response.
STARVE_THE_RUNNER = (
    "import os\n"
    "def sol():\n"
    "    for i in range(60):\n"
    "        if os.fork() == 0:\n"
    "            while True:\n                pass\n"
    "    chunk = b'x' * (1 << 20)\n"
    "    for i in range(60):\n        os.write(2, chunk)\n"
    "    return 8\n"
)


def test_starving_the_runner_is_not_an_error(puzzle_verifier: PuzzleVerifier) -> None:
    puzzle = Puzzle(name="Seven:0", sat="def sat(x: int):\n    return x == 7", ans_type="int",
                    timeout_s=5.0, sat_timeout_s=3.0)
    verdict = puzzle_verifier.verify(_problem(puzzle, "p3/starve"), STARVE_THE_RUNNER)
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), verdict


def test_an_answer_too_big_for_the_sat_run_is_not_an_error(puzzle_verifier: PuzzleVerifier) -> None:
    # Got through: a str of 25M quotes doubles in size with each JSON escaping; the fresh
    # sat run ran out of memory parsing its job and reported a harness fault (ERROR).
    puzzle = Puzzle(name="Quotes:0", sat="def sat(x: str):\n    return x == 'a'", ans_type="str",
                    timeout_s=20.0, sat_timeout_s=20.0, memory_mb=256)
    verdict = puzzle_verifier.verify(_problem(puzzle, "p3/quotes"), "def sol():\n    return '\"' * 25_000_000\n")
    assert verdict.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), verdict


_LEAVE_EVERYTHING = r'''
import ctypes, os, resource, signal, socket, time
os.umask(0o777)
os.environ['POISON'] = '1'
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.nice(5)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind('\0verigen-poison')
        s.listen(1)
        for fd in range(0, 3):
            os.close(fd)
        time.sleep(1000)
    os._exit(0)
time.sleep(0.2)
for d in ('/tmp', '/dev/shm', '/dev/mqueue'):
    try:
        open(os.path.join(d, '.poison'), 'w').write('x')
    except OSError:
        pass
ctypes.CDLL(None, use_errno=True).mq_open(b'/poisonq', os.O_CREAT | os.O_RDWR, 0o600, None)
'''
_LOOK_AROUND = r'''
import os, resource, socket
mask = os.umask(0o22)
status = [l.strip() for l in open('/proc/self/status') if l.startswith(('SigIgn', 'SigBlk', 'SigCgt', 'NoNewPrivs'))]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect('\0verigen-poison')
    abstract = 'connected'
except OSError as e:
    abstract = type(e).__name__
scratch = [sorted(n for n in os.listdir(d) if not n.startswith('run-')) for d in ('/tmp', '/dev/shm', '/dev/mqueue')
           if os.path.isdir(d)]
print(oct(mask), status, os.environ.get('POISON'), os.nice(0), abstract, scratch,
      len([p for p in os.listdir('/proc') if p.isdigit()]),
      [resource.getrlimit(r) for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_STACK, resource.RLIMIT_MEMLOCK)])
'''


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("last", ["exits", "stops_everyone"])
def test_a_program_leaves_nothing_the_next_one_sees(backend: str, last: str) -> None:
    """Program B looks at its process state and the shared namespaces (umask, signal
    dispositions, env, nice, an abstract socket, scratch dirs, processes, rlimits) on a
    fresh runner, then again after A tried to leave each of them behind on that runner."""
    from verigen.sandbox.select import open_sandbox
    from verigen.sandbox.types import ExecRequest, ExecStatus, Limits

    poison = _LEAVE_EVERYTHING + ("os.kill(-1, signal.SIGSTOP)\n" if last == "stops_everyone" else "")
    with open_sandbox(_backend(backend), workers=1) as sandbox:
        fresh = sandbox.run(ExecRequest(code=_LOOK_AROUND))
        sandbox.run(ExecRequest(code=poison, limits=Limits(timeout_s=3.0)))
        after = sandbox.run(ExecRequest(code=_LOOK_AROUND))
    assert fresh.status is ExecStatus.EXITED and fresh.exit_code == 0, fresh
    assert after.stdout == fresh.stdout, (fresh.stdout, after.stdout)


@pytest.mark.parametrize("backend", BACKENDS)
def test_starving_the_runner_never_fails_the_next_honest_programs(backend: str) -> None:
    from verigen.sandbox.select import open_sandbox

    sandbox = open_sandbox(_backend(backend), workers=1)
    verifier = PuzzleVerifier(sandbox=sandbox, scale_timeouts=False)
    try:
        bad = verifier.verify(_problem(PUZZLE, "p3/Seven:0"), STARVE_THE_RUNNER)
        assert bad.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), bad
        honest = [verifier.verify(_problem(PUZZLE, "p3/Seven:0"), HONEST_PUZZLE).outcome for _ in range(3)]
        assert honest == [Outcome.ACCEPTED] * 3
    finally:
        verifier.close()
        sandbox.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("poison", ["kill_minus_one", "stop_minus_one", "realtime_signals_and_sigio_everywhere",
                                    "plant_modules_everywhere", "fake_builtins_in_name_table"])
def test_red_team_poison_never_fails_the_next_honest_programs(poison: str, backend: str) -> None:
    from verigen.sandbox.select import open_sandbox

    sandbox = open_sandbox(_backend(backend), workers=1)  # one warm runner for all of it
    verifier = CodeVerifier(sandbox=sandbox, scale_timeouts=False)
    try:
        suite, code = RED_ATTACKS[poison]
        bad = verifier.verify(_problem(suite, f"toy/red-{poison}"), code)
        assert bad.outcome in (Outcome.REJECTED, Outcome.TIMEOUT), bad
        for family in ("mbpp_like", "stdio", "call"):
            honest = [verifier.verify(_problem(SUITES[family]), HONEST[family]).outcome for _ in range(3)]
            assert honest == [Outcome.ACCEPTED] * 3, (family, honest)
        again = verifier.verify(_problem(WRAPPED_SUITE, "toy/wrapped"), HONEST_PAIR)
        assert again.outcome is Outcome.ACCEPTED, again.detail
    finally:
        verifier.close()
        sandbox.close()

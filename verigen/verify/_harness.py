"""The in-sandbox test harness (stdlib only): this file's source IS the program that runs.

The host (``verigen.verify._code_exec``) sends this file as ``ExecRequest.code``, a job as
the file ``job.json`` and a fresh random nonce as the first line of stdin. The harness:

1. reads the nonce byte by byte from fd 0 before any candidate code runs, then replaces
   fd 0 by a new file holding only the rest of stdin (the runner's stdin is a seekable
   file: without this a candidate could seek back and read the nonce);
2. dups fd 1 (so closing or redirecting stdout cannot silence it), captures the builtins
   and ``os`` functions it needs as locals, snapshots the builtins and the modules the
   tests import, and installs an audit hook that refuses the cheap introspection routes
   (``sys._current_frames``, ``gc.get_referrers``/``get_objects``/``get_referents``,
   ``sys.settrace``/``setprofile``, ``ctypes``, ``/proc/*/mem``);
3. runs the candidate in its own namespace (``__name__ == "candidate"``), catching
   ``BaseException`` (``SystemExit``, ``KeyboardInterrupt`` and friends are failures);
4. runs every test in a separate namespace whose builtins are the snapshot taken before
   the candidate ran; values returned by the candidate's entry point must be plain
   builtin data, recursively (``type(x) is int``..., never ``isinstance``), so an object
   whose ``__eq__`` always answers True fails before it is compared;
5. checks that no builtin and no function of the test's modules was replaced, then writes
   ONE line ``@@verigen:<nonce>:<passed>`` TAB ``<json why>`` TAB ``<json payload>`` with
   ``os.write`` on the saved fd and leaves with ``os._exit(0)`` (no candidate atexit hook
   runs).

The host accepts only EXITED, exit code 0, exactly one line carrying its nonce, and
``passed`` equal to the number of tests. Exiting early, printing a marker, closing
stdout or patching ``print``/``sys.stdout``/``os._exit`` therefore never yields a pass.

Residual risk: the candidate runs in the harness's own interpreter. Code that walks the
stack (``sys._getframe(n).f_back.f_locals``, stdlib needs ``sys._getframe`` so it stays
open), or gets a frame through a signal handler, can read the nonce held in ``_main``'s
locals and forge the line. The sandbox bounds what such code can do; a forged pass is the
remaining failure mode, so verdicts of adversarially-trained models deserve a second look.

Modes (``job["mode"]``): ``tests`` (assert-style tests: HumanEval, MBPP), ``calls`` (call
a function on argument lists, results returned as JSON for the host to compare: APPS
call-based), ``sol`` (P3: call ``sol()``, check the answer type, return it as JSON) and
``sat`` (P3: trusted ``sat`` on a JSON answer, no candidate code at all).
"""

from __future__ import annotations

import builtins
import collections
import gc
import json
import os
import sys
import types

# Functions defined below resolve builtins through this private copy, so a candidate that
# replaces ``builtins.type`` or ``builtins.exec`` cannot subvert the harness's own checks.
globals()["__builtins__"] = dict(builtins.__dict__)

RESULT_PREFIX = "@@verigen:"
HARNESS_FAULT = 97  # exit code: the harness failed before any candidate code ran
_PLAIN_LEAF = (int, float, complex, str, bytes, bool, type(None))
_PLAIN_SEQ = (list, tuple, set, frozenset, collections.deque)
_JSON_LEAF = (int, float, str, bool, type(None))
# Counter is a Python class: its methods are snapshotted and checked like builtins.
_PLAIN_MAPS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)
_BLOCKED_EVENTS = frozenset(
    {"sys._current_frames", "gc.get_referrers", "gc.get_objects", "gc.get_referents",
     "sys.settrace", "sys.setprofile"}
)
_MAX_NODES = 1_000_000


def parse_type(spec: str) -> object:
    """``"List[List[int]]"`` -> ``("list", ("list", int))``; unknown names raise ValueError."""
    spec = spec.replace(" ", "")
    names = {"int": int, "str": str, "float": float, "bool": bool}
    if spec in names:
        return names[spec]
    for head, kind in (("List[", "list"), ("Dict[", "dict")):
        if spec.startswith(head) and spec.endswith("]"):
            inner = spec[len(head) : -1]
            if kind == "list":
                return ("list", parse_type(inner))
            depth = 0
            for i, ch in enumerate(inner):
                depth += ch == "["
                depth -= ch == "]"
                if ch == "," and depth == 0:
                    return ("dict", parse_type(inner[:i]), parse_type(inner[i + 1 :]))
    raise ValueError(f"unsupported answer type {spec!r}")


def type_ok(value: object, spec: object) -> bool:
    """Exact recursive type check: ``type(x) is T`` (so True is not an int)."""
    stack = [(value, spec)]
    while stack:
        val, sp = stack.pop()
        if type(sp) is tuple:
            if sp[0] == "list":
                if type(val) is not list:
                    return False
                stack.extend((v, sp[1]) for v in val)
            else:
                if type(val) is not dict:
                    return False
                stack.extend((k, sp[1]) for k in val)
                stack.extend((v, sp[2]) for v in val.values())
        elif type(val) is not sp:
            return False
    return True


def is_plain(value: object, json_only: bool = False) -> bool:
    """Builtin data all the way down (no user classes, no subclasses of builtins)."""
    leaf = _JSON_LEAF if json_only else _PLAIN_LEAF
    seqs = (list, tuple) if json_only else _PLAIN_SEQ
    stack, seen = [value], 0
    while stack:
        val = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            return False
        tp = type(val)
        if tp in leaf:
            continue
        if tp in seqs:
            stack.extend(val)  # type: ignore[arg-type]
        elif tp in _PLAIN_MAPS:
            stack.extend(val)  # type: ignore[arg-type]
            stack.extend(val.values())  # type: ignore[attr-defined]
        else:
            return False
    return True


def _audit_hook(event: str, args: tuple[object, ...]) -> None:
    if event in _BLOCKED_EVENTS or event.startswith("ctypes."):
        raise ValueError(f"{event} is not allowed here")
    if event == "open" and args and isinstance(args[0], str):
        path = args[0]
        if path.startswith("/proc/") and path.endswith(("/mem", "/environ", "/pagemap")):
            raise ValueError(f"opening {path} is not allowed here")


def _read_nonce() -> str:
    """The first stdin line, read byte by byte (nothing of the rest is buffered here)."""
    raw = b""
    while not raw.endswith(b"\n") and len(raw) < 256:
        ch = os.read(0, 1)
        if not ch:
            break
        raw += ch
    rest = []
    while chunk := os.read(0, 1 << 16):
        rest.append(chunk)
    path = ".stdin"
    with open(path, "wb") as fh:
        fh.write(b"".join(rest))
    fd = os.open(path, os.O_RDONLY)
    os.dup2(fd, 0)  # the old stdin (with the nonce in it) is gone now
    os.close(fd)
    os.unlink(path)
    sys.stdin = open(0, "r", closefd=False)
    return raw.decode("ascii", "replace").strip()


def _test_modules(sources: list[str]) -> list[object]:
    """Import (before the candidate runs) every module the trusted test code imports."""
    import ast

    names: set[str] = {"math", "re", "collections", "itertools", "functools", "heapq"}
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    mods = []
    for name in sorted(names):
        try:
            __import__(name)
            mods.append(sys.modules[name])
        except BaseException:  # noqa: BLE001 - a broken import fails later, in the test
            pass
    return mods


def _snapshot(mods: list[object]) -> list[tuple[dict[str, object], dict[str, object]]]:
    pairs = [(builtins.__dict__, dict(builtins.__dict__))]
    pairs.extend((vars(m), dict(vars(m))) for m in mods)
    pairs.append((vars(collections.Counter), dict(vars(collections.Counter))))  # type: ignore[arg-type]
    return pairs


def _untouched(pairs: list[tuple[dict[str, object], dict[str, object]]]) -> bool:
    for live, saved in pairs:
        for key, val in saved.items():
            if callable(val) and live.get(key) is not val:
                return False
    return True


def _run_candidate(source: str, ns: dict[str, object]) -> str:
    """'' on success, else why not (never raises)."""
    try:
        exec(compile(source, "candidate.py", "exec", dont_inherit=True, optimize=0), ns)
        return ""
    except BaseException as exc:  # noqa: BLE001 - SystemExit & co. are failures too
        return _why("candidate", exc)


def _why(where: str, exc: BaseException) -> str:
    try:
        return f"{where}: {type(exc).__name__}: {str(exc)[:200]}"
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return f"{where}: exception"


def _plain_wrapper(fn: object, json_only: bool = False) -> object:
    plain = is_plain

    def call(*args: object, **kwargs: object) -> object:
        result = fn(*args, **kwargs)  # type: ignore[operator]
        if not plain(result, json_only):
            raise TypeError("the candidate returned a value that is not plain builtin data")
        return result

    return call


def _test_namespace(job: dict[str, object], cand: dict[str, object], safe: dict[str, object]) -> dict[str, object]:
    """Trusted names win: builtins snapshot, then candidate names that shadow no builtin,
    then the trusted prelude (HumanEval prompt helpers), then the wrapped entry point."""
    ns: dict[str, object] = {"__builtins__": dict(safe), "__name__": "tests"}
    for key, val in cand.items():
        if not key.startswith("__") and key not in safe:
            ns[key] = val
    prelude = job.get("prelude")
    if isinstance(prelude, str) and prelude:
        exec(compile(prelude, "prelude.py", "exec", dont_inherit=True, optimize=0), ns)
    entry = job.get("entry_point")
    if isinstance(entry, str) and entry:
        if entry not in cand or not callable(cand[entry]):
            raise NameError(f"the candidate does not define {entry}()")
        ns[entry] = _plain_wrapper(cand[entry])
    return ns


def _mode_tests(job: dict[str, object], cand: dict[str, object], safe: dict[str, object]) -> tuple[int, object, str]:
    try:
        ns = _test_namespace(job, cand, safe)
        setup = str(job.get("setup") or "")
        if setup:
            exec(compile(setup, "setup.py", "exec", dont_inherit=True, optimize=0), ns)
    except BaseException as exc:  # noqa: BLE001
        return 0, None, _why("setup", exc)
    passed = 0
    for i, test in enumerate(job["tests"]):  # type: ignore[arg-type]
        try:
            exec(compile(test, f"test_{i}.py", "exec", dont_inherit=True, optimize=0), ns)
        except BaseException as exc:  # noqa: BLE001
            return passed, None, _why(f"test {i}", exc)
        passed += 1
    return passed, None, ""


def _callable(cand: dict[str, object], name: str) -> object:
    klass = cand.get("Solution")
    if isinstance(klass, type) and hasattr(klass, name):
        return getattr(klass(), name)
    fn = cand.get(name)
    if not callable(fn):
        raise NameError(f"the candidate does not define {name}()")
    return fn


def _mode_calls(job: dict[str, object], cand: dict[str, object]) -> tuple[int, object, str]:
    try:
        fn = _plain_wrapper(_callable(cand, str(job["entry_point"])), json_only=True)
    except BaseException as exc:  # noqa: BLE001
        return 0, None, _why("lookup", exc)
    results: list[object] = []
    for i, args in enumerate(job["calls"]):  # type: ignore[arg-type]
        try:
            results.append(fn(*json.loads(args)))  # a fresh copy of the arguments per call
        except BaseException as exc:  # noqa: BLE001
            return i, None, _why(f"case {i}", exc)
    return len(results), results, ""


def _mode_sol(job: dict[str, object], cand: dict[str, object]) -> tuple[int, object, str]:
    try:
        spec = parse_type(str(job["ans_type"]))
        fn = cand.get("sol")
        if not callable(fn):
            return 0, None, "the candidate does not define sol()"
        answer = fn()
        if not type_ok(answer, spec):
            return 0, None, f"answer is not of type {job['ans_type']}"
        return 1, answer, ""
    except BaseException as exc:  # noqa: BLE001
        return 0, None, _why("sol", exc)


def _mode_sat(job: dict[str, object]) -> tuple[int, object, str]:
    ns: dict[str, object] = {"__name__": "puzzle"}
    try:
        exec("from typing import *\n" + str(job["sat"]), ns)
        answer = json.loads(str(job["answer"]))
        result = ns["sat"](answer)  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001
        return 0, None, _why("sat", exc)
    return (1, None, "") if result is True else (0, None, f"sat returned {type(result).__name__}")


def _prepare() -> tuple[str, int, dict[str, object], list[tuple[dict[str, object], dict[str, object]]]]:
    """Everything done before the candidate runs; exits with HARNESS_FAULT on failure."""
    try:
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)
        nonce = _read_nonce()
        out_fd = os.dup(1)
        with open("job.json", encoding="utf-8") as fh:
            job = json.load(fh)
        sources = [str(job.get(k) or "") for k in ("prelude", "setup")]
        mods = _test_modules(sources + list(job.get("tests") or []))
        mods.append(json)
        pairs = _snapshot(mods)
        # The candidate must not reach this module (and patch its checks) via sys.modules.
        sys.modules["__main__"] = types.ModuleType("__main__")
        gc.collect()
        sys.addaudithook(_audit_hook)
    except BaseException:  # noqa: BLE001 - nothing of the candidate ran yet: our fault
        os._exit(HARNESS_FAULT)
    return nonce, out_fd, job, pairs


def _run_job(job: dict[str, object], safe: dict[str, object]) -> tuple[int, object, str]:
    mode = job["mode"]
    if mode == "sat":
        return _mode_sat(job)
    cand: dict[str, object] = {"__name__": "candidate", "__builtins__": builtins}
    why = _run_candidate(str(job["candidate"]), cand)
    if why:
        return 0, None, why
    try:
        if mode == "tests":
            return _mode_tests(job, cand, safe)
        if mode == "calls":
            return _mode_calls(job, cand)
        return _mode_sol(job, cand)
    except BaseException as exc:  # noqa: BLE001
        return 0, None, _why("harness", exc)


def _main() -> None:
    write, exit_ = os.write, os._exit
    dumps = json.JSONEncoder(allow_nan=True, separators=(",", ":")).encode
    safe = dict(builtins.__dict__)
    nonce, out_fd, job, pairs = _prepare()
    passed, payload, why = _run_job(job, safe)
    try:
        if not _untouched(pairs):
            passed, payload, why = 0, None, "the candidate replaced a builtin or a test module's function"
        text = dumps(why) + "\t" + dumps(payload)
    except BaseException:  # noqa: BLE001
        passed, text = 0, '"result not serializable"\tnull'
    line = "\n%s%s:%d\t%s\n" % (RESULT_PREFIX, nonce, passed, text)
    data = line.encode("utf-8", "replace")
    while data:
        data = data[write(out_fd, data) :]
    exit_(0)


if __name__ == "__main__":
    _main()

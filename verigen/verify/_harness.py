"""The in-sandbox test harness (stdlib only): this file's source IS the program that runs.

The host (``verigen.verify._code_exec``) sends this file as ``ExecRequest.code``, a job as
the file ``job.json`` and a fresh random nonce as the first line of stdin. Privilege
separation inside one interpreter: the MAIN thread is trusted (nonce, test code, counting,
type checks); every piece of candidate code (its module body, each call) runs on a fresh
thread, and the main thread waits until no candidate thread is left before it looks at
anything. So no candidate frame has a main-thread frame above it, and no candidate code
runs while trusted code does. In order, the harness:

1. reads the nonce byte by byte from fd 0, then replaces fd 0 by a file with only the rest
   of stdin (the runner's stdin is seekable: a candidate could seek back to the nonce);
2. dups fd 1, captures what it needs, imports and snapshots the builtins and the modules
   the tests import, disables the cyclic GC (a collection on the main thread could run a
   candidate ``__del__`` there) and installs an audit hook that refuses the routes back to
   the main thread: new audit hooks, ``sys._current_frames``, ``gc.get_referrers`` & co.,
   ``sys.settrace``/``setprofile``, frames from tracebacks/generators, ``ctypes``, /proc,
   and threads started by the candidate;
3. runs the candidate module (``__name__ == "candidate"``) on its thread; any exception,
   ``SystemExit`` and ``KeyboardInterrupt`` included, is a failure;
4. runs the trusted tests on the main thread in a namespace of their own (builtins
   snapshot, an ``__import__`` that serves only snapshotted modules); candidate functions
   appear there as proxies whose results must be plain builtin data, recursively
   (``type(x) is int``..., never ``isinstance``: an always-equal object never reaches a
   comparison). After every call: no candidate thread alive, GC still off, builtins and
   test modules untouched, every object that crossed the line still plain;
5. writes ONE line ``@@verigen:<nonce>:<passed>`` TAB ``<json why>`` TAB ``<json payload>``
   with ``os.write`` on the saved fd and leaves with ``os._exit(0)``.

The host accepts only EXITED, exit code 0, exactly one line with its nonce, and ``passed``
equal to the number of tests: exiting early, printing a marker, closing stdout, patching
``print``/``sys.stdout``/``os._exit``/builtins never yields a pass.

Residual risk: one interpreter is shared. A bug or unaudited path in CPython that reaches
another thread's frames or raw memory (e.g. a C extension the sandbox image ships) would
reopen the nonce to the candidate; the sandbox still bounds what it can do. Candidates
cannot use threads or signals in function-style tests (an honest program rarely does).

Modes (``job["mode"]``): ``tests`` (assert-style: HumanEval, MBPP), ``calls`` (APPS
call-based: results go back as JSON for the host to compare), ``sol`` (P3: ``sol()``,
exact answer type, answer as JSON) and ``sat`` (P3: trusted ``sat`` on a JSON answer, no
candidate code at all).
"""

from __future__ import annotations

import _thread
import builtins
import collections
import gc
import json
import os
import re
import sys
import time
import types
from queue import SimpleQueue as _SimpleQueue

# Functions defined below resolve builtins through this private copy, so a candidate that
# replaces ``builtins.type`` or ``builtins.exec`` cannot subvert the harness's own checks.
globals()["__builtins__"] = dict(builtins.__dict__)

RESULT_PREFIX = "@@verigen:"
HARNESS_FAULT = 97  # exit code: the harness failed before any candidate code ran
# re.Match / re.Pattern are final C types (truthiness tests in MBPP return them).
_PLAIN_LEAF = (int, float, complex, str, bytes, bool, type(None), re.Match, re.Pattern)
_PLAIN_SEQ = (list, tuple, set, frozenset, collections.deque)
_JSON_LEAF = (int, float, str, bool, type(None))
# Counter is a Python class: its methods are snapshotted and checked like builtins.
_PLAIN_MAPS = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)
_PLAIN_TYPES = _PLAIN_LEAF + _PLAIN_SEQ + _PLAIN_MAPS  # e.g. MBPP passes ``int`` as an argument
_BLOCKED_EVENTS = frozenset(
    {"sys._current_frames", "gc.get_referrers", "gc.get_objects", "gc.get_referents",
     "sys.settrace", "sys.setprofile", "os.symlink", "os.link"}
)
_BLOCKED_FILES = frozenset({"mem", "pagemap", "environ"})
_FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_DEFAULT_MODULES = ("sys", "math", "re", "collections", "itertools", "functools", "heapq", "string",
                    "bisect", "operator", "random", "typing", "copy", "json", "json.encoder",
                    "json.decoder", "json.scanner", "statistics", "fractions", "decimal", "cmath")
_THREAD_GATE = [False]
_WORKER_STACK = 64 << 20  # deep recursion in candidates (APPS/P3 raise the recursion limit)
# Captured now, before any candidate code exists: the main thread never looks them up again.
_SAFE = dict(builtins.__dict__)
_count, _start_thread, _stack_size = _thread._count, _thread.start_new_thread, _thread.stack_size
_sleep, _gc_enabled = time.sleep, gc.isenabled
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


def _one_of(tp: object, types_: tuple[type, ...]) -> bool:
    """Identity membership: ``tp in types_`` would call a hostile metaclass's ``__eq__``."""
    for t in types_:
        if tp is t:
            return True
    return False


def is_plain(value: object, json_only: bool = False, extra: frozenset[int] = frozenset()) -> bool:
    """Builtin data all the way down (no user classes, no subclasses of builtins); builtin
    type objects (``int``...) count as data; ``extra``: ids of objects also allowed."""
    leaf = _JSON_LEAF if json_only else _PLAIN_LEAF
    seqs = (list, tuple) if json_only else _PLAIN_SEQ
    stack, seen = [value], 0
    while stack:
        val = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            return False
        tp = type(val)
        if _one_of(tp, leaf) or (extra and id(val) in extra):
            continue
        if _one_of(tp, seqs):
            stack.extend(val)  # type: ignore[arg-type]
        elif _one_of(tp, _PLAIN_MAPS):
            stack.extend(val)  # type: ignore[arg-type]
            stack.extend(val.values())  # type: ignore[attr-defined]
        elif json_only or not (tp is type and _one_of(val, _PLAIN_TYPES)):
            return False
    return True


def _audit_hook(event: str, args: tuple[object, ...]) -> None:
    """Refuses the routes from the candidate's thread to the trusted main thread."""
    if event == "sys.addaudithook":
        # A RuntimeError makes CPython drop the new hook silently: a candidate's hook would
        # run on the main thread, next to the nonce.
        raise RuntimeError("no new audit hooks")
    if event in _BLOCKED_EVENTS or event.startswith("ctypes."):
        raise ValueError(f"{event} is not allowed here")
    if event == "_thread.start_new_thread" and not _THREAD_GATE[0]:
        raise ValueError("the candidate may not start threads here")
    if event == "object.__getattr__" and len(args) > 1 and args[1] in _FRAME_ATTRS:
        raise ValueError("frame access is not allowed here")
    if event == "open" and args and type(args[0]) in (str, bytes):
        arg = args[0]
        path = arg if type(arg) is str else arg.decode("utf-8", "replace")  # type: ignore[attr-defined]
        parts = path.split("/")
        if "proc" in parts or parts[-1] in _BLOCKED_FILES:  # our memory holds the nonce
            raise ValueError(f"opening {path!r} is not allowed here")


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
    sys.stdin = open(0, closefd=False)
    return raw.decode("ascii", "replace").strip()


def _test_modules(sources: list[str]) -> dict[str, types.ModuleType]:
    """Import (before the candidate runs) every module the trusted test code imports."""
    import ast

    names = set(_DEFAULT_MODULES)
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
    names.update([n.partition(".")[0] for n in names])  # "import os.path" binds "os"
    mods: dict[str, types.ModuleType] = {}
    for name in sorted(names):
        try:
            __import__(name)
            mods[name] = sys.modules[name]
        except BaseException:
            pass
    return mods


Pairs = list[tuple[object, dict[str, object], dict[str, object], bool]]


def _snapshot(mods: dict[str, types.ModuleType]) -> Pairs:
    """(object, live dict, saved copy, strict) for builtins, test modules, json, Counter."""
    pairs: Pairs = [(builtins, builtins.__dict__, dict(builtins.__dict__), False)]
    for name, mod in mods.items():
        strict = name.startswith("json")
        pairs.append((mod, vars(mod), dict(vars(mod)), strict))
    counter = dict(vars(collections.Counter))
    pairs.append((collections.Counter, vars(collections.Counter), counter, True))  # type: ignore[arg-type]
    return pairs


def _untouched(pairs: Pairs) -> bool:
    """No module swapped its class, no function was replaced (strict: nothing changed)."""
    for obj, live, saved, strict in pairs:
        if type(obj) is types.ModuleType or obj is collections.Counter:
            pass
        else:
            return False
        if strict and len(live) != len(saved):
            return False
        for key, val in saved.items():
            if (strict or callable(val)) and live.get(key) is not val:
                return False
    return True


class CandidateError(Exception):
    """The candidate raised; the message was formatted on the candidate's thread."""


class Foul(BaseException):
    """The candidate broke the rules (patched the harness's world, planted objects...)."""


# Worker-side code: these run on the candidate's thread with a throwaway globals dict, so
# walking up from candidate frames reaches nothing of the harness.
def _worker_call(fn: object, args: tuple[object, ...], kwargs: dict[str, object], outbox: object) -> None:
    try:
        result = (0, fn(*args, **kwargs))  # type: ignore[operator]
    except BaseException as exc:
        try:
            text = type(exc).__name__ + ": " + str(exc)[:200]
        except BaseException:
            text = "exception"
        result = (1, text if type(text) is str else "exception")
    outbox.put(result)  # type: ignore[attr-defined]


def _worker_exec(source: str, ns: dict[str, object]) -> None:
    exec(compile(source, "candidate.py", "exec", dont_inherit=True, optimize=0), ns)


def _worker_method(klass: type, name: str, *args: object) -> object:
    return getattr(klass(), name)(*args)


def _isolated(fn: object) -> types.FunctionType:
    return types.FunctionType(fn.__code__, {"__builtins__": dict(_SAFE)}, fn.__name__)  # type: ignore[attr-defined]


class _Boundary:
    """The trusted main thread's side of the line. Every candidate call runs on a fresh
    thread; the main thread waits until no candidate thread is left, then checks that the
    world it relies on is intact (builtins, test modules, every object that crossed)."""

    def __init__(self, pairs: Pairs) -> None:
        self.pairs = pairs
        self.crossed: list[object] = []  # plain objects shared with the candidate
        self.opaque: list[tuple[object, type]] = []  # candidate record instances we hold
        self.keep: list[object] = []  # never freed here: no candidate __del__ on this thread
        self.foul = ""
        self.base = _count()
        self.call_fn, self.exec_fn, self.method_fn = (
            _isolated(_worker_call), _isolated(_worker_exec), _isolated(_worker_method))

    def call(self, fn: object, *args: object, **kwargs: object) -> object:
        if self.foul:
            raise Foul(self.foul)
        outbox: _SimpleQueue[object] = _SimpleQueue()
        self.keep.append(outbox)
        _THREAD_GATE[0] = True
        try:
            _stack_size(_WORKER_STACK)
            _start_thread(self.call_fn, (fn, args, kwargs, outbox))
        finally:
            _THREAD_GATE[0] = False
            _stack_size(0)
        item = outbox.get()
        while _count() != self.base:  # candidate code may still run: wait it out
            _sleep(0.0002)
        self.keep.append(item)
        self._check()
        if self.foul:
            raise Foul(self.foul)
        if type(item) is not tuple or len(item) != 2 or type(item[0]) is not int:
            self.foul = "a forged reply"
            raise Foul(self.foul)
        if item[0] != 0:
            text = item[1]
            raise CandidateError(text if type(text) is str else "exception")
        return item[1]

    def _check(self) -> None:
        if _gc_enabled():
            self.foul = "the candidate re-enabled the garbage collector"
        elif not _untouched(self.pairs):
            self.foul = "the candidate replaced a builtin or a test module's function"
        elif not all(is_plain(o, extra=self.opaque_ids()) for o in self.crossed):
            self.foul = "the candidate planted a non-plain object in shared data"
        elif not all(type(o) is k for o, k in self.opaque):
            self.foul = "the candidate changed the class of an object it handed over"

    def opaque_ids(self) -> frozenset[int]:
        return frozenset(id(obj) for obj, _ in self.opaque)

    def outgoing(self, arg: object, test_ns: dict[str, object]) -> object:
        """An argument for the candidate: plain data, possibly holding records we got from
        it (watched from now on), or a test-defined function re-created without the test
        namespace."""
        if is_plain(arg, extra=self.opaque_ids()):
            self.crossed.append(arg)
            return arg
        if type(arg) is types.FunctionType and arg.__closure__ is None and arg.__globals__ is test_ns:
            return types.FunctionType(arg.__code__, {"__builtins__": dict(_SAFE)}, arg.__name__,
                                      arg.__defaults__)
        raise TypeError(f"cannot hand a {type(arg).__name__} to the candidate")

    def proxy(self, fn: object, test_ns: dict[str, object], json_only: bool = False) -> object:
        """A main-side stand-in for candidate function or record class ``fn``."""
        is_class = type(fn) is type

        def proxy(*args: object, **kwargs: object) -> object:
            out = tuple(self.outgoing(a, test_ns) for a in args)
            kw = {k: self.outgoing(v, test_ns) for k, v in kwargs.items()}
            result = self.call(fn, *out, **kw)
            if is_class:
                if type(result) is not fn:
                    raise TypeError("the candidate's class returned something else")
                self.opaque.append((result, fn))
                return result
            if not is_plain(result, json_only):
                raise TypeError("the candidate returned a value that is not plain builtin data")
            self.crossed.append(result)
            return result

        return proxy


_RECORD_KEYS = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                          "__init__", "__annotations__"})


def _record_class(obj: object) -> bool:
    """A class whose instances we may hold: plain ``object`` subclass, no special methods
    but ``__init__`` (attribute access on it runs no candidate code)."""
    if type(obj) is not type or obj.__bases__ != (object,):
        return False
    for key in list(type.__dict__["__dict__"].__get__(obj)):
        if type(key) is not str or (key.startswith("__") and key not in _RECORD_KEYS):
            return False
    return True


def _candidate_names(cand: dict[str, object]) -> dict[str, object]:
    """The candidate's globals with exact-str keys (a hostile key could run code on lookup)."""
    return {k: v for k, v in list(cand.items()) if type(k) is str}


def _test_namespace(job: dict[str, object], names: dict[str, object], box: _Boundary,
                    mods: dict[str, types.ModuleType]) -> dict[str, object]:
    """Trusted names win: builtins snapshot, candidate functions/records/plain values that
    shadow no builtin (as proxies), the trusted prelude, then the entry point's proxy."""
    safe = dict(_SAFE)
    safe["__import__"] = _importer(mods)
    ns: dict[str, object] = {"__builtins__": safe, "__name__": "tests"}
    for key, val in names.items():
        if key.startswith("__") or key in _SAFE:
            continue
        if type(val) is types.FunctionType or _record_class(val):
            ns[key] = box.proxy(val, ns)
        elif type(val) is types.ModuleType and key in mods and mods[key] is val:
            ns[key] = val
        elif is_plain(val):
            box.crossed.append(val)
            ns[key] = val
    prelude = job.get("prelude")
    if isinstance(prelude, str) and prelude:
        exec(compile(prelude, "prelude.py", "exec", dont_inherit=True, optimize=0), ns)
    entry = str(job.get("entry_point") or "")
    if entry:
        if type(names.get(entry)) is not types.FunctionType:
            raise NameError(f"the candidate does not define {entry}()")
        ns[entry] = box.proxy(names[entry], ns)
    return ns


def _importer(mods: dict[str, types.ModuleType]) -> object:
    """Test code imports only what was imported (and snapshotted) before the candidate ran."""

    def importer(name: str, globals: object = None, locals: object = None,
                 fromlist: object = (), level: int = 0) -> object:
        top = name.partition(".")[0]
        if name in mods and top in mods:
            return mods[name] if fromlist else mods[top]
        raise ImportError(f"test code may only import modules loaded before the candidate: {name}")

    return importer


def _mode_tests(job: dict[str, object], box: _Boundary, names: dict[str, object],
                mods: dict[str, types.ModuleType]) -> tuple[int, object, str]:
    try:
        ns = _test_namespace(job, names, box, mods)
        setup = str(job.get("setup") or "")
        if setup:
            exec(compile(setup, "setup.py", "exec", dont_inherit=True, optimize=0), ns)
    except BaseException as exc:
        return 0, None, _why("setup", exc)
    passed = 0
    test: str
    for i, test in enumerate(job["tests"]):  # type: ignore[arg-type]
        try:
            exec(compile(test, f"test_{i}.py", "exec", dont_inherit=True, optimize=0), ns)
        except BaseException as exc:
            return passed, None, _why(f"test {i}", exc)
        passed += 1
    return passed, None, ""


def _mode_calls(job: dict[str, object], box: _Boundary, names: dict[str, object]) -> tuple[int, object, str]:
    name = str(job["entry_point"])
    klass = names.get("Solution")
    results: list[object] = []
    args: str
    for i, args in enumerate(job["calls"]):  # type: ignore[arg-type]
        argv = json.loads(args)  # a fresh copy of the arguments per call
        box.crossed.append(argv)
        try:
            if type(klass) is type:
                result = box.call(box.method_fn, klass, name, *argv)
            elif type(names.get(name)) is types.FunctionType:
                result = box.call(names[name], *argv)
            else:
                return 0, None, f"the candidate does not define {name}()"
        except BaseException as exc:
            return i, None, _why(f"case {i}", exc)
        if not is_plain(result, json_only=True):
            return i, None, f"case {i}: the result is not plain JSON data"
        box.crossed.append(result)
        results.append(result)
    return len(results), results, ""


def _mode_sol(job: dict[str, object], box: _Boundary, names: dict[str, object]) -> tuple[int, object, str]:
    try:
        spec = parse_type(str(job["ans_type"]))
        if type(names.get("sol")) is not types.FunctionType:
            return 0, None, "the candidate does not define sol()"
        answer = box.call(names["sol"])
        if not type_ok(answer, spec):
            return 0, None, f"answer is not of type {job['ans_type']}"
        return 1, answer, ""
    except BaseException as exc:
        return 0, None, _why("sol", exc)


def _mode_sat(job: dict[str, object]) -> tuple[int, object, str]:
    """Trusted code only: the puzzle's ``sat`` on the JSON answer (no candidate here)."""
    ns: dict[str, object] = {"__name__": "puzzle"}
    try:
        exec("from typing import *\n" + str(job["sat"]), ns)
        answer = json.loads(str(job["answer"]))
        result = ns["sat"](answer)  # type: ignore[operator]
    except BaseException as exc:
        return 0, None, _why("sat", exc)
    return (1, None, "") if result is True else (0, None, f"sat returned {type(result).__name__}")


def _why(where: str, exc: BaseException) -> str:
    """Describe an exception raised on the main thread (ours or CandidateError/Foul)."""
    if type(exc) is CandidateError or type(exc) is Foul:
        return f"{where}: {type(exc).__name__}: {exc.args[0] if exc.args else ''}"
    try:
        return f"{where}: {type(exc).__name__}: {str(exc)[:200]}"
    except BaseException:
        return f"{where}: exception"


def _prepare() -> tuple[str, int, dict[str, object], dict[str, types.ModuleType], Pairs]:
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
        pairs = _snapshot(mods)
        # The candidate must not reach this module (and patch its checks) via sys.modules.
        sys.modules["__main__"] = types.ModuleType("__main__")
        gc.collect()
        gc.disable()  # a collection on this thread could run a candidate __del__ here
        sys.addaudithook(_audit_hook)
    except BaseException:
        os._exit(HARNESS_FAULT)
    return nonce, out_fd, job, mods, pairs


def _run_job(job: dict[str, object], mods: dict[str, types.ModuleType], box: _Boundary) -> tuple[int, object, str]:
    mode = job["mode"]
    if mode == "sat":
        return _mode_sat(job)
    cand: dict[str, object] = {"__name__": "candidate", "__builtins__": builtins}
    box.keep.append(cand)
    try:
        box.call(box.exec_fn, str(job["candidate"]), cand)
    except BaseException as exc:
        return 0, None, _why("candidate", exc)
    names = _candidate_names(cand)
    box.keep.append(names)
    try:
        if mode == "tests":
            return _mode_tests(job, box, names, mods)
        if mode == "calls":
            return _mode_calls(job, box, names)
        return _mode_sol(job, box, names)
    except BaseException as exc:
        return 0, None, _why("harness", exc)


def _main() -> None:
    write, exit_ = os.write, os._exit
    dumps = json.JSONEncoder(allow_nan=True, separators=(",", ":")).encode
    nonce, out_fd, job, mods, pairs = _prepare()
    box = _Boundary(pairs)
    passed, payload, why = _run_job(job, mods, box)
    try:
        if box.foul or not _untouched(pairs):
            passed, payload, why = 0, None, box.foul or "the candidate replaced a builtin"
        text = dumps(why) + "\t" + dumps(payload)
    except BaseException:
        passed, text = 0, '"result not serializable"\tnull'
    line = "\n%s%s:%d\t%s\n" % (RESULT_PREFIX, nonce, passed, text)
    data = line.encode("utf-8", "replace")
    while data:
        data = data[write(out_fd, data) :]
    exit_(0)


if __name__ == "__main__":
    _main()

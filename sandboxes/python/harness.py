"""verigen's test harness for function-style code (stdlib only): two processes, one program.

The host (``verigen.verify._code_exec``) runs this file as a named program of the sandbox
runner, with a peer: the same program, forked by the runner's zygote, connected by a socket.

- The MAIN process (``harness.py main``) is the trusted side. It reads the job (tests with
  their expected values, or call arguments) from stdin, runs the test code, compares, and
  writes the one report line on its stdout. It never executes candidate code.
- The PEER process (``harness.py peer``) is the candidate's. It receives the candidate
  program over the socket, runs it, and serves calls: function name or handle, arguments
  as plain data in; a result as plain data (or an opaque handle to one of its objects)
  out. It never sees the job: no test, no expected value, no report channel.

The candidate's process therefore holds nothing worth stealing or forging: no nonce (there
is none), no test job in memory or on disk (the zygote that forked it never saw a request;
its stdout is the request's stderr), no fd of the report. Whatever it does to its own
interpreter (patched builtins, audit hooks, native code, ``/proc/self/mem``, os._exit with
any code, killing the main process) changes only its own answers, or ends the run without
a report, which the host counts against the candidate.

Values cross as tagged JSON (see ``encode`` / ``decode``): only builtin data of exact types
(``type(x) is int``..., never subclasses), handles to the candidate's objects, and, towards
the candidate, functions the test code passes (re-created there from their code object).
Mutated container arguments are copied back after each call, so in-place tests work.

Report (one line on stdout): ``{"v": 1, "passed": P, "total": T, "why": str, "payload": x,
"fault": str|null}``. ``fault`` is set only for a failure before any candidate code was
sent to the peer (a bad job): the host makes that an infrastructure ERROR.

Job modes: ``tests`` (assert-style snippets: HumanEval, MBPP), ``calls`` (APPS call-based:
results go back as JSON for the host to compare), ``sol`` (P3: ``sol()``, exact answer
type, the answer as JSON), ``sat`` (P3: trusted ``sat`` on a JSON answer; no peer).
"""

from __future__ import annotations

import _thread
import base64
import bisect
import builtins
import collections
import copy
import decimal
import fractions
import functools
import hashlib
import heapq
import importlib
import itertools
import json
import marshal
import math
import operator
import os
import re
import signal
import socket
import string
import struct
import sys
import types
import typing

# Imported here, where the runner's zygote runs this module once, so no run pays for the
# modules test code and candidates use most (HumanEval prompts import typing).
_PRELOADED = (bisect, copy, decimal, fractions, functools, hashlib, heapq, itertools, math, operator,
              string, typing)

MAX_FRAME = 256 << 20  # one message either way; the runner's memory limit bounds it too
_SMALL_INT = 1 << 62
_STACK = 64 << 20  # deep recursion in candidates (APPS/P3 raise the recursion limit)
_BUILTIN_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bytearray, bool, list, tuple,
                                          set, frozenset, dict, type(None), object)}
_SEQ_TAGS = {tuple: "tuple", set: "set", frozenset: "frozenset", collections.deque: "deque"}
_MAP_TAGS = {dict: "dict", collections.OrderedDict: "odict", collections.Counter: "counter"}


# ---------------------------------------------------------------- framing


def send(fd: int, obj: object) -> None:
    body = json.dumps(obj, separators=(",", ":"), allow_nan=True).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def recv(fd: int) -> object:
    (length,) = struct.unpack(">I", _read_exact(fd, 4))
    if length > MAX_FRAME:
        raise ValueError(f"a message of {length} bytes is over the limit")
    return json.loads(_read_exact(fd, length).decode("utf-8"))


# ---------------------------------------------------------------- values


class Unencodable(Exception):
    """A value that is not plain builtin data (and not allowed as a handle here)."""


def encode(value: object, handle: object = None, extra: object = None) -> object:
    """Tagged JSON for plain builtin data of exact types. ``handle(obj)`` gives a handle
    id for an object that is not plain data (None: refuse it); ``extra(obj)`` may encode
    a value itself (returns None to decline)."""
    tp = type(value)
    if value is None or tp is bool or tp is str:
        return value
    if tp is int:
        return value if -_SMALL_INT < value < _SMALL_INT else {"$": "int", "v": hex(value)}
    if tp is float:
        return value
    if tp is list:
        return [encode(v, handle, extra) for v in value]
    if tp in _SEQ_TAGS:
        return {"$": _SEQ_TAGS[tp], "v": [encode(v, handle, extra) for v in value]}
    if tp in _MAP_TAGS:
        return {"$": _MAP_TAGS[tp], "v": [[encode(k, handle, extra), encode(v, handle, extra)]
                                          for k, v in value.items()]}
    if tp is collections.defaultdict:
        factory = value.default_factory
        if factory is not None and not any(factory is t for t in _BUILTIN_TYPES.values()):
            raise Unencodable("a defaultdict with a non-builtin default factory")
        return {"$": "ddict", "f": None if factory is None else factory.__name__,
                "v": [[encode(k, handle, extra), encode(v, handle, extra)] for k, v in value.items()]}
    if tp is bytes or tp is bytearray:
        return {"$": tp.__name__, "v": base64.b64encode(value).decode("ascii")}
    if tp is complex:
        return {"$": "complex", "v": [value.real, value.imag]}
    if tp is type and any(value is t for t in _BUILTIN_TYPES.values()):
        return {"$": "type", "v": value.__name__}
    if extra is not None:
        done = extra(value)
        if done is not None:
            return done
    if handle is not None:
        ident = handle(value)
        if ident is not None:
            return {"$": "h", "v": ident}
    raise Unencodable(f"a {tp.__name__!s:.60} is not plain builtin data")


def decode(obj: object, resolve: object = None) -> object:
    """The inverse of ``encode``; ``resolve(tag, payload)`` turns handle-like tags into
    objects. Anything malformed raises ValueError."""
    tp = type(obj)
    if obj is None or tp is bool or tp is str or tp is int or tp is float:
        return obj
    if tp is list:
        # Copied so that its allocation is exact, as a literal's: sys.getsizeof agrees.
        return [decode(v, resolve) for v in obj].copy()
    if tp is not dict or set(obj) - {"$", "v", "f"} or type(obj.get("$")) is not str:
        raise ValueError("malformed value")
    tag, payload = obj["$"], obj.get("v")
    if tag == "int" and type(payload) is str:
        return int(payload, 16)
    if tag in ("tuple", "set", "frozenset", "deque") and type(payload) is list:
        items = [decode(v, resolve) for v in payload]
        return {"tuple": tuple, "set": set, "frozenset": frozenset, "deque": collections.deque}[tag](items)
    if tag in ("dict", "odict", "counter", "ddict") and type(payload) is list:
        pairs = [(decode(p[0], resolve), decode(p[1], resolve)) for p in payload
                 if (type(p) is list and len(p) == 2) or _bad("pair")]
        if tag == "ddict":
            factory = obj.get("f")
            made: object = collections.defaultdict(None if factory is None else _builtin_type(factory))
            made.update(pairs)  # type: ignore[attr-defined]
            return made
        if tag == "counter":
            counter: collections.Counter[object] = collections.Counter()
            counter.update(dict(pairs))
            return counter
        return dict(pairs) if tag == "dict" else collections.OrderedDict(pairs)
    if tag in ("bytes", "bytearray") and type(payload) is str:
        raw = base64.b64decode(payload, validate=True)
        return raw if tag == "bytes" else bytearray(raw)
    if tag == "complex" and type(payload) is list and len(payload) == 2:
        return complex(float(payload[0]), float(payload[1]))
    if tag == "type" and type(payload) is str:
        return _builtin_type(payload)
    if resolve is not None:
        return resolve(tag, payload)
    raise ValueError(f"unexpected tag {tag!r}")


def _bad(what: str) -> bool:
    raise ValueError(f"malformed {what}")


def _builtin_type(name: object) -> type:
    if type(name) is not str or name not in _BUILTIN_TYPES:
        raise ValueError(f"not a builtin type: {name!r}")
    return _BUILTIN_TYPES[name]


# ---------------------------------------------------------------- the peer (candidate side)


class _Peer:
    """Serves the main process: runs the candidate program, then calls into it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ns: dict[str, object] = {}
        self.objects: list[object] = []  # handles: index into this list (keeps them alive)
        self.ids: dict[int, int] = {}  # id(object) -> handle, so one object has one handle

    def handle(self, obj: object) -> int:
        known = self.ids.get(id(obj))
        if known is None:
            known = self.ids[id(obj)] = len(self.objects)
            self.objects.append(obj)
        return known

    def resolve(self, tag: str, payload: object) -> object:
        if tag == "h" and type(payload) is int and 0 <= payload < len(self.objects):
            return self.objects[payload]
        if tag == "g" and type(payload) is str and payload in self.ns:
            return self.ns[payload]
        if tag == "fn" and type(payload) is list and len(payload) == 3:
            code = marshal.loads(base64.b64decode(payload[0]))
            defaults = decode(payload[2], self.resolve)
            return types.FunctionType(code, {"__builtins__": builtins}, str(payload[1]),
                                      tuple(defaults) if defaults else None)
        if tag == "builtin" and type(payload) is str:
            return getattr(builtins, payload)
        raise ValueError(f"unexpected tag {tag!r}")

    def serve(self) -> None:
        while True:
            try:
                msg = recv(self.fd)
            except EOFError:
                return
            reply = self.answer(msg)
            try:
                send(self.fd, reply)
            except (Unencodable, ValueError, RecursionError, OverflowError) as exc:
                send(self.fd, {"id": reply.get("id"), "exc": ["TypeError", f"unencodable reply: {exc}"[:300], True]})

    def answer(self, msg: dict) -> dict:
        ident = msg.get("id")
        try:
            op = msg["op"]
            if op == "load":
                return {"id": ident, "ok": self.load(msg["source"])}
            if op == "getattr":
                value = getattr(self.resolve("h", msg["h"]), msg["name"])
                return {"id": ident, "ok": self.out(value, any_object=True)}
            if op == "setattr":
                setattr(self.resolve("h", msg["h"]), str(msg["name"]), decode(msg["value"], self.resolve))
                return {"id": ident, "ok": None}
            return self.call(ident, msg)
        except BaseException as exc:
            return {"id": ident, "exc": _describe(exc)}

    def load(self, source: str) -> dict[str, object]:
        self.ns = {"__name__": "candidate", "__builtins__": builtins}
        exec(compile(source, "candidate.py", "exec", dont_inherit=True), self.ns)
        names: dict[str, object] = {}
        for key, value in list(self.ns.items()):
            if type(key) is not str or key.startswith("__"):
                continue
            if type(value) is types.FunctionType:
                names[key] = ["fn"]
            elif type(value) is type:
                names[key] = ["cls"]
            elif type(value) is types.ModuleType:
                names[key] = ["mod", str(getattr(value, "__name__", ""))]
            else:
                try:
                    names[key] = ["val", encode(value)]
                except (Unencodable, RecursionError, ValueError):
                    names[key] = ["other"]
        return names

    def call(self, ident: object, msg: dict) -> dict:
        target = msg["fn"]
        if target[0] == "name":
            fn = self.ns[target[1]]
        elif target[0] == "method":  # APPS: getattr(Solution(), name)
            fn = getattr(self.ns[target[1]](), target[2])
        elif target[0] == "attr":
            fn = getattr(self.resolve("h", target[1]), target[2])
        else:
            fn = self.resolve("h", target[1])
        args = [decode(a, self.resolve) for a in msg.get("args", [])]
        kwargs = {str(k): decode(v, self.resolve) for k, v in msg.get("kwargs", {}).items()}
        before = [None if type(a) not in _MUTABLE else msg["args"][i] for i, a in enumerate(args)]
        result = fn(*args, **kwargs)
        any_object = bool(msg.get("object"))  # a class, or a test that holds handles
        back = []
        for i, (arg, was) in enumerate(zip(args, before)):
            if was is not None:
                now = encode(arg, self.handle)
                if now != was:
                    back.append([i, now])
        return {"id": ident, "ok": self.out(result, any_object), "back": back}

    def out(self, value: object, any_object: bool) -> object:
        """Plain data; a handle for a candidate object where the caller may hold one (a
        constructor's result, an attribute), and for regex matches (tests check truth)."""
        def handle(obj: object) -> int | None:
            if any_object or type(obj) in (re.Match, re.Pattern):
                return self.handle(obj)
            return None

        return encode(value, handle)


_MUTABLE = (list, dict, set, bytearray, collections.deque, collections.OrderedDict,
            collections.defaultdict, collections.Counter)


def _describe(exc: BaseException) -> list[object]:
    """[class name, message, whether it is an Exception] (not SystemExit & co.)."""
    ordinary = isinstance(exc, Exception)
    try:
        name = type(exc).__name__
        text = str(exc)[:300]
    except BaseException:  # a hostile __str__ or __name__
        return ["Exception", "exception", ordinary]
    return [name if type(name) is str else "Exception", text if type(text) is str else "", ordinary]


def peer_main() -> None:
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)  # P3 answers and literals can be thousands of digits
    peer = _Peer(3)
    done = _thread.allocate_lock()
    done.acquire()

    def run() -> None:
        try:
            peer.serve()
        finally:
            done.release()

    try:
        _thread.stack_size(_STACK)
        _thread.start_new_thread(run, ())
    except (RuntimeError, MemoryError, ValueError):  # a small memory limit: the default stack
        _thread.stack_size(0)
        _thread.start_new_thread(run, ())
    done.acquire()
    os._exit(0)


# ---------------------------------------------------------------- the main (trusted) side


class CandidateError(Exception):
    """The candidate raised an exception of its own class (or one we do not re-create)."""


class CandidateExit(BaseException):
    """The candidate raised SystemExit, KeyboardInterrupt or another non-Exception: like
    in-process, ``except Exception`` in a test does not catch it."""


class Foul(Exception):
    """The peer broke the protocol (a malformed or out-of-order reply)."""


# StopIteration and StopAsyncIteration are left out: raised out of a call inside a trusted
# iteration (``all(map(lambda v: f(v) == g(v), cases))``) they would end it early, as
# if every case had passed. The candidate's comes back as a CandidateError.
_REBUILT = {name: cls for name, cls in vars(builtins).items()
            if type(cls) is type and issubclass(cls, Exception) and cls is not Exception
            and not issubclass(cls, (StopIteration, StopAsyncIteration))}
# Modules a test may use through the candidate's own import of them (MBPP 596 uses the
# candidate's ``sys``): bound in the test namespace as the trusted side's own import.
_SHARED_MODULES = frozenset({"sys", "math", "re", "collections", "itertools", "functools", "heapq",
                             "string", "bisect", "operator", "random", "typing", "copy", "json",
                             "statistics", "fractions", "decimal", "cmath", "datetime"})


class _Remote:
    """An object of the candidate's, held by handle: identity equality, always true, its
    attributes fetched from the peer, callable when it is (a bound method)."""

    __slots__ = ("_ident", "_link")

    def __init__(self, link: _Link, ident: int) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ident", ident)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._link.fetch_attr(self._ident, name)

    def __setattr__(self, name: str, value: object) -> None:
        self._link.store_attr(self._ident, name, value)

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._link.call(["h", self._ident], args, kwargs, objects=True)

    def __repr__(self) -> str:
        return f"<candidate object #{self._ident}>"


class _RemoteFunction:
    """A function (or class) of the candidate, called in the peer."""

    __slots__ = ("_link", "_name", "_objects")

    def __init__(self, link: _Link, name: str, objects: bool) -> None:
        self._link, self._name, self._objects = link, name, objects

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._link.call(["name", self._name], args, kwargs, objects=self._objects)

    def __repr__(self) -> str:
        return f"<candidate function {self._name}>"


class _Link:
    """The main side of the channel to the peer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.next_id = 0
        self.remotes: dict[int, _Remote] = {}

    def ask(self, msg: dict) -> object:
        self.next_id += 1
        msg["id"] = self.next_id
        send(self.fd, msg)
        reply = recv(self.fd)
        if type(reply) is not dict or reply.get("id") != self.next_id:
            raise Foul("the peer sent a reply out of turn")
        if "exc" in reply:
            raise _rebuilt(reply["exc"])
        if "ok" not in reply:
            raise Foul("the peer sent a reply without a result")
        return reply

    def call(self, target: list[object], args: tuple[object, ...], kwargs: dict[str, object],
             *, objects: bool) -> object:
        wire = [encode(a, extra=self.extra) for a in args]
        kw = {k: encode(v, extra=self.extra) for k, v in kwargs.items()}
        reply = self.ask({"op": "call", "fn": target, "args": wire, "kwargs": kw, "object": objects})
        for item in reply.get("back") or ():  # type: ignore[union-attr]
            if type(item) is not list or len(item) != 2 or type(item[0]) is not int or not 0 <= item[0] < len(args):
                raise Foul("the peer sent a malformed argument update")
            _copy_back(args[item[0]], decode(item[1], self.resolve))
        return decode(reply["ok"], self.resolve)  # type: ignore[index]

    def fetch_attr(self, ident: int, name: str) -> object:
        reply = self.ask({"op": "getattr", "h": ident, "name": name})
        return decode(reply["ok"], self.resolve)  # type: ignore[index]

    def store_attr(self, ident: int, name: str, value: object) -> None:
        self.ask({"op": "setattr", "h": ident, "name": name, "value": encode(value, extra=self.extra)})

    def resolve(self, tag: str, payload: object) -> object:
        if tag == "h" and type(payload) is int:
            if payload not in self.remotes:
                self.remotes[payload] = _Remote(self, payload)
            return self.remotes[payload]
        raise ValueError(f"unexpected tag {tag!r} from the peer")

    def extra(self, value: object) -> object:
        """Encodings only the trusted side sends: handles back, functions of the tests."""
        tp = type(value)
        if tp is _Remote:
            return {"$": "h", "v": object.__getattribute__(value, "_ident")}
        if tp is _RemoteFunction:
            return {"$": "g", "v": value._name}  # type: ignore[attr-defined]
        if tp is types.FunctionType and value.__closure__ is None:  # type: ignore[attr-defined]
            code = base64.b64encode(marshal.dumps(value.__code__)).decode("ascii")  # type: ignore[attr-defined]
            defaults = encode(list(value.__defaults__ or ()), extra=self.extra)  # type: ignore[attr-defined]
            return {"$": "fn", "v": [code, value.__name__, defaults]}  # type: ignore[attr-defined]
        if tp is types.BuiltinFunctionType and getattr(builtins, value.__name__, None) is value:  # type: ignore[attr-defined]
            return {"$": "builtin", "v": value.__name__}  # type: ignore[attr-defined]
        return None


def _rebuilt(exc: object) -> BaseException:
    """The candidate's exception, for the test code: a builtin Exception class as itself,
    any other Exception as CandidateError, anything else as CandidateExit."""
    if type(exc) is not list or len(exc) != 3 or type(exc[0]) is not str or type(exc[1]) is not str:
        return Foul("the peer sent a malformed exception")
    name, text, ordinary = exc
    if ordinary is not True:
        return CandidateExit(f"{name}: {text}")
    cls = _REBUILT.get(name)
    if cls is None:
        return CandidateError(f"{name}: {text}")
    try:
        return cls(text)
    except BaseException:  # a class that needs other arguments (UnicodeDecodeError, ExceptionGroup)
        return CandidateError(f"{name}: {text}")


def _copy_back(orig: object, new: object) -> None:
    """In-place update of a container argument the candidate mutated."""
    if type(orig) is not type(new):
        raise Foul("the peer changed the type of an argument")
    if type(orig) in (list, bytearray):
        orig[:] = new  # type: ignore[index]
    elif type(orig) is collections.deque:
        orig.clear()  # type: ignore[attr-defined]
        orig.extend(new)  # type: ignore[attr-defined]
    else:
        orig.clear()  # type: ignore[attr-defined]
        orig.update(new)  # type: ignore[attr-defined]


def _test_namespace(job: dict, link: _Link, names: dict[str, object]) -> dict[str, object]:
    """Trusted names win: the candidate's functions and classes (as remote callables),
    its plain values and shared modules, then the trusted prelude, then the entry point."""
    ns: dict[str, object] = {}
    for key, desc in names.items():
        # A name the peer reports must be one a program can define: an identifier, not a
        # dunder (a forged table could name ``__builtins__`` and hand the tests builtins of
        # its choosing: ``set = sorted = all = bool``), not a builtin.
        if (type(key) is not str or not key.isidentifier() or key.startswith("__") or key in vars(builtins)
                or type(desc) is not list or not desc):
            continue
        kind = desc[0]
        if kind in ("fn", "cls"):
            ns[key] = _RemoteFunction(link, key, objects=kind == "cls")
        elif kind == "mod" and len(desc) == 2 and desc[1] == key and key in _SHARED_MODULES:
            ns[key] = importlib.import_module(key)
        elif kind == "val" and len(desc) == 2:
            ns[key] = decode(desc[1])
    ns["__builtins__"], ns["__name__"] = builtins, "tests"
    prelude = job.get("prelude")
    if type(prelude) is str and prelude:
        exec(compile(prelude, "prelude.py", "exec", dont_inherit=True), ns)
    entry = str(job.get("entry_point") or "")
    if entry:
        if names.get(entry) != ["fn"]:
            raise NameError(f"the candidate does not define {entry}()")
        ns[entry] = _RemoteFunction(link, entry, objects=False)
    return ns


def _why(where: str, exc: BaseException) -> str:
    try:
        return f"{where}: {type(exc).__name__}: {str(exc)[:300]}"
    except BaseException:
        return f"{where}: {type(exc).__name__}"


def _mode_tests(job: dict, link: _Link, names: dict[str, object]) -> tuple[int, object, str]:
    try:
        ns = _test_namespace(job, link, names)
        setup = str(job.get("setup") or "")
        if setup:
            exec(compile(setup, "setup.py", "exec", dont_inherit=True), ns)
    except BaseException as exc:
        return 0, None, _why("setup", exc)
    passed = 0
    for i, test in enumerate(job["tests"]):
        try:
            exec(compile(str(test), f"test_{i}.py", "exec", dont_inherit=True), ns)
        except BaseException as exc:
            return passed, None, _why(f"test {i}", exc)
        passed += 1
    return passed, None, ""


def _json_plain(value: object) -> bool:
    stack = [value]
    while stack:
        val = stack.pop()
        tp = type(val)
        if val is None or tp in (bool, int, float, str):
            continue
        if tp in (list, tuple):
            stack.extend(val)  # type: ignore[arg-type]
        elif tp is dict:
            stack.extend(val.values())  # type: ignore[attr-defined]
            if not all(type(k) is str for k in val):  # type: ignore[attr-defined]
                return False
        else:
            return False
    return True


def _mode_calls(job: dict, link: _Link, names: dict[str, object]) -> tuple[int, object, str]:
    name = str(job["entry_point"])
    if names.get("Solution") == ["cls"]:
        target: list[object] = ["method", "Solution", name]
    elif names.get(name) == ["fn"]:
        target = ["name", name]
    else:
        return 0, None, f"the candidate does not define {name}()"
    results: list[object] = []
    for i, args in enumerate(job["calls"]):
        argv = json.loads(args)
        if type(argv) is not list:
            argv = [argv]
        try:
            result = link.call(target, tuple(argv), {}, objects=False)
        except BaseException as exc:
            return i, None, _why(f"case {i}", exc)
        if not _json_plain(result):
            return i, None, f"case {i}: the result is not plain JSON data"
        results.append(result)
    return len(results), results, ""


def parse_type(spec: str) -> object:
    """``"List[List[int]]"`` -> ``("list", ("list", int))``; unknown names raise ValueError."""
    spec = spec.replace(" ", "")
    simple = {"int": int, "str": str, "float": float, "bool": bool}
    if spec in simple:
        return simple[spec]
    if spec.startswith("List[") and spec.endswith("]"):
        return ("list", parse_type(spec[5:-1]))
    if spec.startswith("Dict[") and spec.endswith("]"):
        inner, depth = spec[5:-1], 0
        for i, ch in enumerate(inner):
            depth += (ch == "[") - (ch == "]")
            if ch == "," and depth == 0:
                return ("dict", parse_type(inner[:i]), parse_type(inner[i + 1 :]))
    raise ValueError(f"unsupported answer type {spec!r}")


def type_ok(value: object, spec: object) -> bool:
    """Exact recursive type check: ``type(x) is T`` (so True is not an int)."""
    stack = [(value, spec)]
    while stack:
        val, sp = stack.pop()
        if type(sp) is tuple:
            want = list if sp[0] == "list" else dict
            if type(val) is not want:
                return False
            if want is list:
                stack.extend((v, sp[1]) for v in val)  # type: ignore[attr-defined]
            else:
                stack.extend((k, sp[1]) for k in val)  # type: ignore[attr-defined]
                stack.extend((v, sp[2]) for v in val.values())  # type: ignore[attr-defined]
        elif type(val) is not sp:
            return False
    return True


def _mode_sol(job: dict, link: _Link, names: dict[str, object]) -> tuple[int, object, str]:
    spec = parse_type(str(job["ans_type"]))
    if names.get("sol") != ["fn"]:
        return 0, None, "the candidate does not define sol()"
    try:
        answer = link.call(["name", "sol"], (), {}, objects=False)
    except BaseException as exc:
        return 0, None, _why("sol", exc)
    if not type_ok(answer, spec):
        return 0, None, f"answer is not of type {job['ans_type']}"
    return 1, answer, ""


def _mode_sat(job: dict) -> tuple[int, object, str]:
    """Trusted code only: the puzzle's ``sat`` on the JSON answer (no candidate here)."""
    ns: dict[str, object] = {"__name__": "puzzle"}
    try:
        exec("from typing import *\n" + str(job["sat"]), ns)
        answer = json.loads(str(job["answer"]))
        result = ns["sat"](answer)  # type: ignore[operator]
    except BaseException as exc:
        return 0, None, _why("sat", exc)
    return (1, None, "") if result is True else (0, None, f"sat returned {type(result).__name__}")


_MODES = {"tests": _mode_tests, "calls": _mode_calls, "sol": _mode_sol}


def _stdlib_only_path() -> list[str]:
    """The import path of the trusted side: the standard library's own dirs only, never a
    dir the peer could write to (the work dirs) nor site-packages."""
    base = os.path.dirname(os.__file__)
    return [p for p in sys.path if (p == base or p.startswith(base + os.sep))
            and "site-packages" not in p and "dist-packages" not in p]


def _report(fd: int, passed: int, total: int, why: str, payload: object, fault: str | None) -> None:
    try:
        line = json.dumps({"v": 1, "passed": passed, "total": total, "why": why, "payload": payload,
                           "fault": fault}, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError, OverflowError):
        line = json.dumps({"v": 1, "passed": 0, "total": total, "why": "the result is not serializable",
                           "payload": None, "fault": None})
    data = (line + "\n").encode("utf-8", "surrogatepass")
    while data:
        data = data[os.write(fd, data) :]


def _run_job(job_bytes: bytes, report_fd: int, link_fd: int) -> None:
    """One job of the trusted side: the job (JSON) in, one report line on ``report_fd``;
    the peer (if the mode has one) on the socket ``link_fd``."""
    total = 0
    try:
        job = json.loads(job_bytes.decode("utf-8"))
        mode = job["mode"]
        if mode not in _MODES and mode != "sat":
            raise ValueError(f"unknown mode {mode!r}")
        total = len(job.get("tests") or ()) if mode == "tests" else (
            len(job.get("calls") or ()) if mode == "calls" else 1)
    except MemoryError:
        # Never a fault: a job can hold the candidate's data (a P3 answer for ``sat``), so
        # running out of memory on it is the candidate's doing. It escapes (status MEMORY).
        raise
    except BaseException as exc:
        _report(report_fd, 0, total, "", None, _why("job", exc))
        return
    if mode == "sat":
        passed, payload, why = _mode_sat(job)
        _report(report_fd, passed, total, why, payload, None)
        return
    link = _Link(link_fd)
    try:
        link.next_id += 1
        send(link.fd, {"op": "load", "id": link.next_id, "source": str(job["candidate"])})
    except BaseException as exc:
        _report(report_fd, 0, total, "", None, _why("peer", exc))
        return
    try:
        names = _loaded(link)
        passed, payload, why = _MODES[mode](job, link, names)
    except BaseException as exc:
        passed, payload, why = 0, None, _why("candidate", exc)
    _report(report_fd, passed, total, why, payload, None)


def _trusted_setup() -> None:
    os.chdir("/")
    sys.path[:] = _stdlib_only_path()
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)


def main_main() -> None:
    """The trusted side as a program of its own (a fresh process per request): the job on
    stdin, the report on stdout, the peer on fd 4."""
    report_fd = os.dup(1)
    os.dup2(2, 1)  # what trusted test code prints goes to stderr, never into the report
    try:
        _trusted_setup()  # holds nothing of the candidate's: any failure here is a fault
    except BaseException as exc:
        _report(report_fd, 0, 0, "", None, _why("job", exc))
        os._exit(0)
    try:
        job_bytes = sys.stdin.buffer.read()
    except MemoryError:
        raise  # the job may hold the candidate's answer: never a fault (see _run_job)
    except BaseException as exc:
        _report(report_fd, 0, 0, "", None, _why("job", exc))
        os._exit(0)
    _run_job(job_bytes, report_fd, 4)
    os._exit(0)


# A resident trusted side leaves (and the runner forks a fresh one) after this many jobs,
# or when a job left its heap this much larger than it was after its first job.
RESIDENT_MAX_JOBS = 1000
RESIDENT_MAX_GROWTH = 64 << 20
_CATCHABLE = [s for s in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTERM",
                          "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
                          "SIGPIPE", "SIGWINCH", "SIGURG", "SIGIO", "SIGPWR", "SIGTRAP", "SIGSYS")
              if hasattr(signal, s)]


def _vm_data() -> int:
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def resident_main() -> None:
    """The trusted side kept between requests (runner protocol 2, "resident"): one process
    per runner, forked by its zygote like any program, that never executes candidate code
    and so needs no fresh process per request. Fd 3 is a SOCK_SEQPACKET socket to the
    runner. Per job the runner sends ``{"argv": [...]}`` with five fds: the job (a memfd),
    the report pipe, the stderr pipe, the mark pipe and the socket to this job's peer (a
    fresh candidate process). It answers ``done`` once every fd of the job is closed. A
    program of the runner's uid can signal it: every catchable signal is ignored, and a
    kill or stop is seen by the runner (it forks a new one; the job in flight has no
    report, which counts against the candidate)."""
    for name in _CATCHABLE:
        try:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    ctl = socket.socket(fileno=3)
    _trusted_setup()
    base_path = list(sys.path)
    recursion = sys.getrecursionlimit()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    baseline = 0
    jobs = 0
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 1 << 12, 8)
        except OSError:
            os._exit(0)
        if not data or len(fds) != 5:
            os._exit(0)  # the runner has gone, or sent something else: nothing to serve
        job_fd, report_fd, err_fd, mark_fd, link_fd = fds
        os.dup2(err_fd, 1)  # what trusted test code prints goes to the request's stderr
        os.dup2(err_fd, 2)
        try:
            os.write(mark_fd, b"S")
            _run_job(_read_fd(job_fd), report_fd, link_fd)
        except MemoryError:
            os.write(mark_fd, b"M")
            os._exit(1)
        except BaseException:
            os._exit(1)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os.dup2(null, 1)
        os.dup2(null, 2)
        for fd in fds:
            os.close(fd)
        sys.path[:] = base_path
        sys.setrecursionlimit(recursion)
        os.chdir("/")
        jobs += 1
        used = _vm_data()
        baseline = baseline or used
        last = jobs >= RESIDENT_MAX_JOBS or used > baseline + RESIDENT_MAX_GROWTH
        ctl.send(b"last" if last else b"done")
        if last:
            os._exit(0)


def _loaded(link: _Link) -> dict[str, object]:
    """The reply to the load message sent by main_main."""
    reply = recv(link.fd)
    if type(reply) is not dict or reply.get("id") != link.next_id:
        raise Foul("the peer sent a reply out of turn")
    if "exc" in reply:
        raise _rebuilt(reply["exc"])
    names = reply.get("ok")
    if type(names) is not dict:
        raise Foul("the peer sent a malformed name table")
    return names


def main() -> None:
    """The runner calls this in a fresh child: ``harness.py main``, ``harness.py peer`` or
    ``harness.py resident`` (the trusted side kept between requests)."""
    if sys.argv[1:] == ["peer"]:
        peer_main()
    elif sys.argv[1:] == ["resident"]:
        resident_main()
    else:
        main_main()


if __name__ == "__main__":
    main()

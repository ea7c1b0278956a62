"""Static half of puzzle admission: read a model-written ``sat`` without running it.

Only ``ast`` reads the text here; nothing the model wrote is executed in this process.
A puzzle is one top-level ``def sat(x: T, ...)`` (typing imports allowed before it) whose
first argument's annotation is an answer type P3 supports and that survives the JSON
round trip of the answer; every further parameter has a default (P3 calls ``sat(x)``).
"""

from __future__ import annotations

import ast
import random
import re
import string
from dataclasses import dataclass

from verigen.types import JSONValue
from verigen.verify.puzzle import TypeSpec, parse_type

__all__ = ["ParsedPuzzle", "PuzzleSyntaxError", "extract_puzzle", "parse_puzzle", "probes", "solution_body"]

_SAT_DEF = re.compile(r"^def sat\(", re.MULTILINE)
_GENERIC = re.compile(r"\b(list|dict)\[")  # PEP 585 spellings -> the typing names P3 uses


def extract_puzzle(text: str) -> str | None:
    """The puzzle in a model completion: the first fenced block that defines ``sat`` (models
    often follow the puzzle with a solution block, cut off at the token limit), else the
    unfenced text from ``def sat(`` on (stray closing backticks removed), else the
    completion's code as any other code is extracted."""
    from verigen.verify._code_exec import _FENCE, extract_code

    for match in _FENCE.finditer(text):
        if _SAT_DEF.search(match.group(2)):
            return match.group(2)
    start = _SAT_DEF.search(text)
    if start is not None and "```" not in text[: start.start()]:
        return text[start.start() :].split("```", 1)[0].rstrip("`\n ") + "\n"
    return extract_code(text)


class PuzzleSyntaxError(ValueError):
    """The text is not an admissible puzzle; ``stage`` says which check refused it."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedPuzzle:
    """``sat`` source (as written) and its normalized answer type."""

    sat: str
    ans_type: str
    constants: tuple[JSONValue, ...]  # literals of the source, candidates for trivial probes


def _normal_type(annotation: ast.expr) -> str:
    text = ast.unparse(annotation).replace(" ", "")
    return _GENERIC.sub(lambda m: m.group(1).capitalize() + "[", text)


def _json_safe(spec: TypeSpec) -> bool:
    """Dict keys must be str: JSON turns any other key type into a str."""
    if isinstance(spec, tuple):
        if spec[0] == "dict":
            return spec[1] is str and _json_safe(spec[2])  # type: ignore[arg-type]
        return _json_safe(spec[1])  # type: ignore[arg-type]
    return True


def _check_signature(fn: ast.FunctionDef) -> str:
    args = fn.args
    if fn.decorator_list:
        raise PuzzleSyntaxError("parse", "sat is decorated")
    if args.vararg or args.kwarg:
        raise PuzzleSyntaxError("parse", "sat takes *args or **kwargs")
    positional = [*args.posonlyargs, *args.args]
    if not positional:
        raise PuzzleSyntaxError("parse", "sat has no argument (the answer)")
    first = positional[0]
    if first.annotation is None:
        raise PuzzleSyntaxError("type", f"sat's first argument {first.arg!r} has no type annotation")
    if len(args.defaults) < len(positional) - 1 or len(args.defaults) == len(positional):
        raise PuzzleSyntaxError("parse", "every sat parameter after the answer needs a default, the answer none")
    if any(d is None for d in args.kw_defaults):
        raise PuzzleSyntaxError("parse", "a keyword-only sat parameter has no default")
    ans_type = _normal_type(first.annotation)
    try:
        spec = parse_type(ans_type)
    except ValueError:
        supported = "int, float, bool, str, List[...], Dict[str, ...]"
        raise PuzzleSyntaxError("type", f"unsupported answer type {ans_type!r} ({supported})") from None
    if not _json_safe(spec):
        raise PuzzleSyntaxError("type", f"answer type {ans_type!r} has non-str dict keys (lost in the JSON round trip)")
    return ans_type


def _constants(tree: ast.AST) -> tuple[JSONValue, ...]:
    found: list[JSONValue] = []

    def add(value: object) -> None:
        if isinstance(value, str) and len(value) > 200:
            return
        if type(value) in (int, float, str, bool) and value not in found:
            found.append(value)  # type: ignore[arg-type]

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            add(node.value)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            value = node.operand.value
            if type(value) in (int, float):
                add(-value)  # type: ignore[operator]
    return tuple(found[:40])


def parse_puzzle(text: str) -> ParsedPuzzle:
    """The puzzle in ``text`` (code only, no fences), or ``PuzzleSyntaxError``."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise PuzzleSyntaxError("parse", f"does not parse: {type(exc).__name__}: {str(exc)[:200]}") from None
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a module docstring
    fns = [n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    others = [n for n in body if n not in fns and not (isinstance(n, ast.ImportFrom) and n.module == "typing")]
    if others:
        kind = type(others[0]).__name__
        where = f"top-level {kind} at line {others[0].lineno}"
        raise PuzzleSyntaxError("parse", f"{where}: a puzzle is only `def sat` (and typing imports)")
    names = [n.name for n in fns]
    if names != ["sat"] or not isinstance(fns[0], ast.FunctionDef):
        raise PuzzleSyntaxError("parse", f"defines {names or 'nothing'}; a puzzle defines exactly one plain function `sat`")
    ans_type = _check_signature(fns[0])
    source = ast.get_source_segment(text, fns[0]) or ast.unparse(fns[0])
    imports = [ast.get_source_segment(text, n) or "" for n in body if isinstance(n, ast.ImportFrom)]
    sat = "\n".join([*imports, source]) + "\n"
    return ParsedPuzzle(sat=sat, ans_type=ans_type, constants=_constants(fns[0]))


# ---------------------------------------------------------------- probes

_INTS: tuple[int, ...] = (0, 1, -1, 2, 3, 4, 5, 7, 10, 100, -2, -10, 1000)
_FLOATS: tuple[float, ...] = (0.0, 1.0, -1.0, 0.5, 2.0, 3.14, -0.5, 10.0)
_STRS: tuple[str, ...] = ("", "a", "b", "ab", "abc", "aa", "0", "1", " ", "hello", "Hello World", "xyz")


def _random_value(spec: TypeSpec, rng: random.Random, depth: int = 0) -> JSONValue:
    if spec is int:
        return rng.choice((rng.randint(-10, 10), rng.randint(-1000, 1000), rng.randint(0, 10**6)))
    if spec is float:
        return round(rng.uniform(-100, 100), rng.randint(0, 3))
    if spec is bool:
        return rng.random() < 0.5
    if spec is str:
        return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(1, 12)))
    if isinstance(spec, tuple) and spec[0] == "list":
        return [_random_value(spec[1], rng, depth + 1) for _ in range(rng.randint(1, 6 if depth == 0 else 3))]  # type: ignore[arg-type]
    if isinstance(spec, tuple):
        n = rng.randint(1, 4)
        return {str(_random_value(str, rng)): _random_value(spec[2], rng, depth + 1) for _ in range(n)}  # type: ignore[arg-type]
    raise ValueError(f"no probe for {spec!r}")


def _small_values(spec: TypeSpec, constants: tuple[JSONValue, ...]) -> list[JSONValue]:
    if spec is bool:
        return [False, True]
    base: tuple[JSONValue, ...] = _INTS if spec is int else _FLOATS if spec is float else _STRS if spec is str else ()
    consts = [c for c in constants if type(c) is spec]
    if spec is float:
        consts += [float(c) for c in constants if type(c) is int]
    if not isinstance(spec, tuple):
        return [*base, *consts]
    if spec[0] == "list":
        inner = _small_values(spec[1], constants)  # type: ignore[arg-type]
        inner_consts = [c for c in constants if type(c) is spec[1]]
        return [[], *([v] for v in inner), *([v, v] for v in inner[:3]), inner[:3], inner[:5], inner_consts]
    inner = _small_values(spec[2], constants)  # type: ignore[arg-type]
    keys = [k for k in _small_values(str, constants) if isinstance(k, str)]
    return [{}, *({k: inner[0]} for k in keys[:4] if inner), {k: v for k, v in zip(keys[1:4], inner[:3])}]


def probes(ans_type: str, constants: tuple[JSONValue, ...], *, seed: str, random_count: int = 16) -> list[JSONValue]:
    """Trivial answers of ``ans_type``: small values, empty and short strings and lists,
    the source's constants, then ``random_count`` random values (seeded by ``seed``).
    Duplicates removed, order kept; ``bool`` gets both of its values."""
    spec = parse_type(ans_type)
    rng = random.Random(f"selfplay-probe:{seed}")
    values = _small_values(spec, constants) + [_random_value(spec, rng) for _ in range(random_count)]
    seen: set[str] = set()
    out: list[JSONValue] = []
    for v in values:
        key = repr((type(v).__name__, v))
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def solution_body(code: str) -> str | None:
    """``code`` (a program defining ``sol``) as a body under ``def sol():``, the layout of
    P3's ``sol_bodies``: the function's own body when the program is one plain ``sol()``
    without parameters, else the whole program nested and ``return sol()``. None when it
    cannot be nested (``import *``, ``__future__``) or does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    body = [n for n in tree.body if not (isinstance(n, ast.ImportFrom) and n.module == "typing"
                                         and any(a.name == "*" for a in n.names))]
    if any(isinstance(n, ast.ImportFrom) and (n.module == "__future__" or any(a.name == "*" for a in n.names)) for n in body):
        return None
    lines = code.splitlines()
    if len(body) == 1 and isinstance(body[0], ast.FunctionDef) and body[0].name == "sol":
        fn = body[0]
        plain = not fn.decorator_list and not (fn.args.args or fn.args.posonlyargs or fn.args.kwonlyargs
                                               or fn.args.vararg or fn.args.kwarg)
        if plain and fn.body[0].lineno > fn.lineno:
            inner = "\n".join(lines[fn.body[0].lineno - 1 - _decorator_lines(fn.body[0]) : fn.end_lineno])
            return _reindent(inner)
    kept = "\n".join("\n".join(lines[n.lineno - 1 - _decorator_lines(n) : n.end_lineno]) for n in body)
    return _reindent(kept + "\nreturn sol()")


def _decorator_lines(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return node.lineno - decorators[0].lineno if decorators else 0


def _reindent(text: str) -> str:
    import textwrap

    return textwrap.indent(textwrap.dedent(text), "    ", lambda line: True).rstrip() + "\n"

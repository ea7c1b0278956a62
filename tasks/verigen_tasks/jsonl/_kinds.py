"""One row of each kind -> the problem's turns, its reference and a known-good completion.

``math``: ``prompt`` (or ``messages``) + ``answer``: a bare answer, a solution with a
final ``\\boxed{}``, or a GSM8K-style ``... #### 42``. ``function``: ``prompt`` + ``tests``
(assert snippets) + ``entry_point``, optional ``setup`` / ``prefix`` / ``reference``; with no
``tests`` a ``setup`` that defines ``check(candidate)`` is called HumanEval-style.
``stdio``: ``prompt`` + ``cases`` (``[{input, output}]`` or APPS ``{inputs, outputs}``),
optional ``reference``. ``puzzle``: ``sat`` (+ optional ``ans_type``, ``sol``, ``prompt``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from verigen.errors import UsageError
from verigen.types import ChatMessage, JSONValue
from verigen.verify.code import IOCase, TestSuite, defines
from verigen.verify.math.answer import MathAnswer
from verigen.verify.puzzle import Puzzle
from verigen_tasks.code._common import FENCE_INSTRUCTION, fenced
from verigen_tasks.code.mbpp import entry_point as infer_entry_point
from verigen_tasks.code.p3 import prompt as puzzle_prompt
from verigen_tasks.jsonl._fields import Fields
from verigen_tasks.math._common import final_line
from verigen_tasks.math._latex import last_boxed, unbox

Kind = Literal["math", "function", "stdio", "puzzle"]
Reference = MathAnswer | TestSuite | Puzzle

STDIO_INSTRUCTION = (
    "Write a Python program that reads the input from standard input and prints the answer "
    "to standard output. " + FENCE_INSTRUCTION
)
DEFAULT_TIMEOUT_S = {"math": 0.0, "function": 3.0, "stdio": 3.0, "puzzle": 10.0}
_CALC_RE = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_CHECK_RE = re.compile(r"^def\s+check\s*\(", re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """What the task args say about every row."""

    kind: Kind
    timeout_s: float
    instruction: str | None  # appended to a code prompt; None: the kind's default


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    turns: tuple[ChatMessage, ...]  # ends with the user turn of the question
    reference: Reference
    solution: str | None  # a completion the verifier must accept


def turns_of(f: Fields, *, required: bool) -> tuple[ChatMessage, ...]:
    if f.has("messages"):
        return f.messages("messages")
    if f.has("prompt") or required:
        if not f.has("prompt"):
            raise UsageError(f"{f.row.where}: needs {f.label('prompt')} or {f.label('messages')}")
        return (ChatMessage(role="user", content=f.text("prompt")),)
    return ()


def _replace_question(turns: tuple[ChatMessage, ...], question: str) -> tuple[ChatMessage, ...]:
    return (*turns[:-1], ChatMessage(role="user", content=question))


def parse(f: Fields, opts: Options, problem_id: str) -> Parsed:
    """The row as a problem of ``opts.kind``; bad content raises naming row and field."""
    if opts.kind == "math":
        return _math(f)
    if opts.kind == "function":
        return _function(f, opts)
    if opts.kind == "stdio":
        return _stdio(f, opts)
    return _puzzle(f, opts, problem_id)


def split_answer(f: Fields) -> tuple[str, str | None]:
    """(gold answer, worked solution or None) of the ``answer`` field."""
    text = f.text("answer").strip()
    if "\\boxed" in text or "\\fbox" in text:
        gold = last_boxed(text)
        if not gold:
            raise f.error("answer", "has a \\boxed{} that is empty or unbalanced")
        return gold, text
    if "####" in text:
        body, _, final = text.rpartition("####")
        gold = _THOUSANDS_RE.sub("", final.strip())
        if not gold:
            raise f.error("answer", "has nothing after '####'")
        return gold, _CALC_RE.sub("", body).strip() or None
    return text, None


def _math(f: Fields) -> Parsed:
    turns = turns_of(f, required=True)
    gold, solution = split_answer(f)
    worked = f"{unbox(solution).rstrip()}\n\n{final_line(gold)}" if solution else final_line(gold)
    return Parsed(turns=turns, reference=MathAnswer(text=gold), solution=worked)


def _suite(f: Fields, field: str, **kwargs: object) -> TestSuite:
    try:
        return TestSuite(**kwargs)  # type: ignore[arg-type]
    except UsageError as exc:
        raise f.error(field, f"gives no valid test suite: {exc}") from None


def _function(f: Fields, opts: Options) -> Parsed:
    turns = turns_of(f, required=True)
    tests = f.strings("tests")
    setup, prefix = f.optional_text("setup"), f.optional_text("prefix")
    reference = f.optional_text("reference") or None
    if f.has("entry_point"):
        entry = f.text("entry_point").strip()
    else:
        entry = infer_entry_point((prefix + "\n" + (reference or "")), list(tests) or [setup])
        if not entry:
            raise f.error("entry_point", "is missing and no function in the prefix or reference is called by the tests")
    if not tests:
        if not _CHECK_RE.search(setup):
            raise f.error("tests", "is missing: give assert snippets, or a setup that defines check(candidate)")
        tests = (f"check({entry})",)
    suite = _suite(f, "tests", kind="function", entry_point=entry, prefix=prefix, setup=setup, tests=tests,
                   timeout_s=opts.timeout_s, reference=reference)
    question = turns[-1].content
    if prefix and question.strip() == prefix.strip():
        question = f"Complete the Python function `{entry}` below.\n\n{fenced(prefix)}"
    else:
        if prefix:
            question += f"\n\nStart from this code:\n\n{fenced(prefix)}"
        if entry not in question:
            question += f"\n\nWrite it as a Python function named `{entry}`."
    instruction = FENCE_INSTRUCTION if opts.instruction is None else opts.instruction
    question = f"{question}\n\n{instruction}".rstrip()
    # A completion that only continues the prefix becomes a whole program as an example.
    worked = reference
    if reference is not None and prefix and not defines(reference, entry):
        worked = prefix + ("" if prefix.endswith("\n") else "\n") + reference
    return Parsed(turns=_replace_question(turns, question), reference=suite, solution=worked)


def _case_text(f: Fields, value: JSONValue, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(str(v) for v in value)
    raise f.error("cases", f"{what} must be a string (or a list of lines), got {type(value).__name__}")


def _cases(f: Fields) -> tuple[IOCase, ...]:
    value = f.structured("cases")
    if isinstance(value, dict) and "inputs" in value:
        inputs, outputs = value.get("inputs"), value.get("outputs")
        if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
            raise f.error("cases", "must have equally long 'inputs' and 'outputs' lists")
        pairs = list(zip(inputs, outputs))
    elif isinstance(value, list):
        pairs = []
        for i, case in enumerate(value):
            if not isinstance(case, dict):
                raise f.error("cases", f"item {i} must be an object with input and output")
            inp = case.get("input", case.get("stdin"))
            out = case.get("output", case.get("stdout"))
            if inp is None or out is None:
                raise f.error("cases", f"item {i} needs 'input' and 'output'")
            pairs.append((inp, out))
    else:
        raise f.error("cases", "is missing" if value is None else "must be a list of {input, output} objects")
    if not pairs:
        raise f.error("cases", "is empty")
    return tuple(IOCase(input=_case_text(f, i, "an input"), output=_case_text(f, o, "an output")) for i, o in pairs)


def _stdio(f: Fields, opts: Options) -> Parsed:
    turns = turns_of(f, required=True)
    reference = f.optional_text("reference") or None
    suite = _suite(f, "cases", kind="stdio", cases=_cases(f), timeout_s=opts.timeout_s, reference=reference)
    instruction = STDIO_INSTRUCTION if opts.instruction is None else opts.instruction
    question = f"{turns[-1].content}\n\n{instruction}".rstrip()
    return Parsed(turns=_replace_question(turns, question), reference=suite, solution=reference)


def _syntax(f: Fields, field: str, source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise f.error(field, f"is not valid Python (line {exc.lineno}: {exc.msg})") from None


def _ans_type(f: Fields, tree: ast.Module) -> str:
    if f.has("ans_type"):
        return f.text("ans_type").strip()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "sat" and node.args.args:
            annotation = node.args.args[0].annotation
            if annotation is not None:
                return ast.unparse(annotation)
    raise f.error("ans_type", "is missing and sat's first parameter has no type annotation")


def _sol_parts(f: Fields, sol: str) -> tuple[str, str]:
    """(header, body) of a reference that defines ``sol``, else ("def sol():", body)."""
    tree = _syntax(f, "sol", sol)
    lines = sol.splitlines()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "sol":
            start = node.body[0].lineno - 1
            header = "\n".join(lines[node.lineno - 1 : start])
            return header, "\n".join(lines[start : node.end_lineno])
    body = sol if sol.startswith((" ", "\t")) else "\n".join("    " + line for line in lines)
    _syntax(f, "sol", "def sol():\n" + body)
    return "def sol():", body


def _puzzle(f: Fields, opts: Options, problem_id: str) -> Parsed:
    sat = f.text("sat")
    tree = _syntax(f, "sat", sat)
    if not defines(sat, "sat"):
        raise f.error("sat", "must define a function named sat")
    ans_type = _ans_type(f, tree)
    sol = f.optional_text("sol")
    header, body = _sol_parts(f, sol) if sol.strip() else ("def sol():", "")
    try:
        puzzle = Puzzle(name=problem_id, sat=sat, ans_type=ans_type, sol_header=header,
                        sol_bodies=(body,) if body else (), timeout_s=opts.timeout_s)
    except UsageError as exc:
        raise f.error("ans_type", f"is not usable: {exc}") from None
    turns = turns_of(f, required=False)
    question = puzzle_prompt(puzzle)
    if turns:
        question = f"{turns[-1].content}\n\n{question}"
    reference = puzzle.reference(0)
    return Parsed(turns=_replace_question(turns or (ChatMessage(role="user", content=""),), question),
                  reference=puzzle, solution=fenced(reference) if reference else None)

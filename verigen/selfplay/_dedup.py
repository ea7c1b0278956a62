"""Near-duplicate puzzles: normalized AST and token n-gram overlap (``ast`` only, no execution).

Normalization renames every local name and argument to its order of first appearance,
replaces each constant by its type and drops docstrings, so puzzles that differ only in
names and numbers (as P3's own instances of one family do) look the same. Two puzzles are
near-duplicates when their normalized trees are equal or the Jaccard overlap of their
normalized token n-grams reaches ``threshold``.
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Fingerprint", "NearDuplicates", "fingerprint"]

_BUILTINS = frozenset(dir(builtins)) | {"sat"}


class _Normalize(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        if name in _BUILTINS:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.copy_location(ast.arg(arg=self._name(node.arg), annotation=None), node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Name(id=type(node.value).__name__.upper(), ctx=ast.Load()), node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
            node.body = body[1:]
        node.returns = None
        self.generic_visit(node)
        return node


@dataclass(frozen=True, slots=True)
class Fingerprint:
    key: str  # the normalized tree
    grams: frozenset[tuple[str, ...]]


def fingerprint(sat: str, n: int = 4) -> Fingerprint | None:
    """The normalized form of ``sat``; None when it does not parse."""
    try:
        tree = ast.parse(sat)
        norm = _Normalize().visit(tree)
        ast.fix_missing_locations(norm)
        text = ast.unparse(norm)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    import io
    import tokenize

    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT,
                                    tokenize.ENDMARKER, tokenize.COMMENT)]
    except (tokenize.TokenError, SyntaxError):
        tokens = text.split()
    size = min(n, len(tokens))
    grams = frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))
    return Fingerprint(key=ast.dump(norm), grams=grams)


@dataclass(slots=True)
class NearDuplicates:
    """An index of puzzles seen so far; ``match`` names the first one a new puzzle repeats.
    Candidates come from an inverted n-gram index, so a match costs the shared grams only."""

    threshold: float = 0.75
    _keys: dict[str, str] = field(default_factory=dict)
    _names: list[str] = field(default_factory=list)
    _sizes: list[int] = field(default_factory=list)
    _postings: dict[tuple[str, ...], list[int]] = field(default_factory=dict)

    def add(self, name: str, fp: Fingerprint) -> None:
        self._keys.setdefault(fp.key, name)
        entry = len(self._names)
        self._names.append(name)
        self._sizes.append(len(fp.grams))
        for gram in fp.grams:
            self._postings.setdefault(gram, []).append(entry)

    def match(self, fp: Fingerprint) -> tuple[str, float] | None:
        """(name, overlap) of the puzzle ``fp`` repeats, or None."""
        same = self._keys.get(fp.key)
        if same is not None:
            return same, 1.0
        shared: Counter[int] = Counter()
        for gram in fp.grams:
            shared.update(self._postings.get(gram, ()))
        best: tuple[str, float] | None = None
        for entry, common in shared.items():
            score = common / (len(fp.grams) + self._sizes[entry] - common)
            if score >= self.threshold and (best is None or score > best[1]):
                best = (self._names[entry], score)
        return best

    def __len__(self) -> int:
        return len(self._names)

"""The reference type of math problems. Importing it imports no SymPy."""

from __future__ import annotations

from dataclasses import dataclass

from verigen.errors import UsageError
from verigen.types import JSONValue


@dataclass(frozen=True, slots=True, kw_only=True)
class MathAnswer:
    """A gold answer: LaTeX or plain math text such as ``42``, ``\\frac{3}{4}``, ``(1, 2)``."""

    text: str

    def to_json(self) -> JSONValue:
        return {"answer": self.text}

    @classmethod
    def from_json(cls, data: JSONValue) -> MathAnswer:
        if isinstance(data, dict) and isinstance(data.get("answer"), str):
            return cls(text=str(data["answer"]))
        raise UsageError(f"math reference must be an object with a string 'answer', got {data!r}")

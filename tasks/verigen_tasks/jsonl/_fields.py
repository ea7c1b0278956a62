"""Typed access to one row's fields through the column mapping; every error names the row,
the field and, where it differs, the column."""

from __future__ import annotations

import json
from collections.abc import Mapping

from verigen.errors import UsageError
from verigen.types import ChatMessage, JSONValue
from verigen_tasks.jsonl._source import Row

_ROLES = ("system", "user", "assistant")


class Fields:
    """One row read through ``columns`` (canonical field name -> column name)."""

    def __init__(self, row: Row, columns: Mapping[str, str]) -> None:
        self.row = row
        self.columns = columns

    def _column(self, field: str) -> str:
        return self.columns.get(field, field)

    def label(self, field: str) -> str:
        column = self._column(field)
        return f"field {field!r}" if column == field else f"field {field!r} (column {column!r})"

    def error(self, field: str, message: str) -> UsageError:
        return UsageError(f"{self.row.where}: {self.label(field)} {message}")

    def raw(self, field: str) -> JSONValue:
        """The value, None when the column is absent, null or an empty string."""
        value = self.row.data.get(self._column(field))
        return None if value == "" else value

    def has(self, field: str) -> bool:
        return self.raw(field) is not None

    def text(self, field: str) -> str:
        """A required non-empty string (a number is read as its text)."""
        value = self.raw(field)
        if value is None:
            raise self.error(field, "is blank" if self.row.data.get(self._column(field)) == "" else "is missing")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(field, f"must be a string, got {type(value).__name__}")
        text = str(value)
        if not text.strip():
            raise self.error(field, "is blank")
        return text

    def optional_text(self, field: str) -> str:
        """A string, or "" when absent; a list of strings is joined by newlines."""
        value = self.raw(field)
        if value is None:
            return ""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(str(v) for v in value)
        if not isinstance(value, str):
            raise self.error(field, f"must be a string, got {type(value).__name__}")
        return value

    def structured(self, field: str) -> JSONValue:
        """A list or object; a string holding JSON (CSV cells, APPS ``input_output``) is
        decoded."""
        value = self.raw(field)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                decoded: JSONValue = json.loads(value)
                return decoded
            except json.JSONDecodeError as exc:
                raise self.error(field, f"holds invalid JSON ({exc.msg})") from None
        return value

    def strings(self, field: str) -> tuple[str, ...]:
        """A list of non-blank strings; one string is a list of one; absent is empty."""
        value = self.structured(field)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.error(field, "must be a list of non-blank strings")
        return tuple(str(v) for v in value)

    def messages(self, field: str) -> tuple[ChatMessage, ...]:
        """A chat conversation ending with a user turn."""
        value = self.structured(field)
        if not isinstance(value, list) or not value:
            raise self.error(field, "must be a non-empty list of {role, content} objects")
        turns: list[ChatMessage] = []
        for i, turn in enumerate(value):
            if not isinstance(turn, dict) or turn.get("role") not in _ROLES or not isinstance(turn.get("content"), str):
                raise self.error(field, f"item {i} must be an object with role (system/user/assistant) and content")
            turns.append(ChatMessage(role=turn["role"], content=str(turn["content"])))  # type: ignore[arg-type]
        if turns[-1].role != "user":
            raise self.error(field, "must end with a user turn (the question)")
        if any(t.role == "system" for t in turns[1:]):
            raise self.error(field, "may hold a system turn only first")
        return tuple(turns)

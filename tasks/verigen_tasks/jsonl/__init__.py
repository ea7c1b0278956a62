"""Task ``jsonl``: problems from a user's own data file (see ``verigen_tasks.jsonl.task``)."""

from verigen_tasks.jsonl.task import JSONL, JSONLArgs

__all__ = ["JSONL", "JSONLArgs"]

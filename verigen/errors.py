"""Error types. ``UsageError`` is bad input from the user: the CLI prints it on one line and
exits with code 2."""

from __future__ import annotations


class VerigenError(Exception):
    """Base class of verigen's own errors."""


class UsageError(VerigenError):
    """Bad input (config, CLI argument, task file, data row): the message names the value."""


class RegistryError(UsageError):
    """Unknown or colliding plugin name."""


class InfrastructureError(VerigenError):
    """A fault of verigen's machinery (worker, sandbox), never a verdict on a candidate."""

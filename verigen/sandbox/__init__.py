"""Sandboxes run untrusted Python programs: ``open_sandbox()`` and the records.

Backends (``bwrap``, ``docker``) are plugins of the "sandboxes" entry-point group and are
imported only when opened. See sandboxes/README.md for the threat model.
"""

from verigen.sandbox.base import Sandbox
from verigen.sandbox.select import open_sandbox
from verigen.sandbox.types import ExecRequest, ExecResult, ExecStatus, Limits

__all__ = ["ExecRequest", "ExecResult", "ExecStatus", "Limits", "Sandbox", "open_sandbox"]

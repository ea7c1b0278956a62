"""Verifiers: math answers (``verigen.verify.math``), code and puzzles by execution."""

from verigen.verify.base import Verifier

__all__ = ["Verifier"]

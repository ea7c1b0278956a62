"""Broken test plugins (see tests/plugins/README.md)."""

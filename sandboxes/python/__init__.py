"""Files that run inside the sandbox (stdlib only), shipped with verigen as package data.

Installed as the package ``verigen._sandbox`` (see pyproject.toml); nothing here is
imported by verigen itself: ``verigen.sandbox._files`` reads these files as data.
"""

"""A plugin module whose import fails: it needs a package that is not installed."""

import verigen_no_such_dependency  # noqa: F401

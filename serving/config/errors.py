"""The one error of the config modules."""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration file or flag the server refuses to start with (one-line message)."""

"""The error users see as one line (no traceback unless --verbose)."""


class ShipyardError(Exception):
    """A problem with the user's input or environment, reported as a one-line message."""

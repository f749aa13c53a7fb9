"""Version folders of a model base path, as TF Serving reads them: a sub-directory whose name is
all digits is a version (`00000123` is version 123); anything else, such as a pusher's
`.tmp-…` staging directory, is not."""
from __future__ import annotations

import os


def is_version_name(name: str) -> bool:
    # ASCII only: str.isdigit() also accepts '²', which int() refuses.
    return name.isascii() and name.isdigit()


def list_versions(base_path: str) -> dict[int, str]:
    """Version number → path of each version directory (none when base_path is unreadable)."""
    try:
        names = os.listdir(base_path)
    except OSError:
        return {}
    versions = {}
    for name in names:
        path = os.path.join(base_path, name)
        if is_version_name(name) and os.path.isdir(path):
            versions[int(name)] = path
    return versions


def version_numbers(base_path: str) -> list[int]:
    """The version numbers under base_path, oldest first."""
    return sorted(list_versions(base_path))


def latest_version(base_path: str) -> int | None:
    """The highest version number under base_path, or None when it has no version."""
    return max(list_versions(base_path), default=None)

"""Shared test setup. Importing `models` first sets Shipyard's Keras-2 switch before any test
imports TensorFlow.

How `make test` (`-n 2 --dist loadfile --no-loadscope-reorder`) shares the work between its two
workers: one file at a time, whole-pipeline files first (so the longest ones start early
instead of running alone at the end), and the files of a SHARED_FIXTURE_GROUPS group together.
"""
import os

import models  # noqa: F401

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Files that use one costly session fixture, which each xdist worker would build for itself:
# one worker runs all of a group, so it is built once.
SHARED_FIXTURE_GROUPS = {
    "trained codec (tests/image_compression/conftest.py: exported)": [
        f"tests/image_compression/test_{name}.py"
        for name in ("codec", "entropy", "mobile", "model", "pipeline")],
}
_GROUP_OF = {path: group for group, paths in SHARED_FIXTURE_GROUPS.items() for path in paths}


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileGroupScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return _GROUP_OF.get(path, path)

    return FileGroupScheduling(config, log)

"""A Pusher whose new model version appears all at once.

TFX's filesystem Pusher copies straight into `<base>/<version>`, so a model server polling the
base directory can see a half-written version. This executor copies into a hidden sibling first
and renames it into place (a rename is atomic within one file system), and never reuses or
goes below an existing version number.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from typing import Any

from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from serving.core.versions import list_versions, version_numbers


def next_version(base_directory: str) -> int:
    """A Unix-timestamp version, above every numeric version already in the base directory."""
    return max([int(time.time())] + [v + 1 for v in version_numbers(base_directory)])


def tree_digest(directory: str) -> str:
    """A content hash of a directory tree (relative paths and bytes)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, directory).encode() + b"\0")
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def push_atomically(model_dir: str, base_directory: str) -> tuple[str, str]:
    """Copies a SavedModel to `<base>/<version>` so that no partial version is ever visible.

    Re-pushing the model that is already the latest version (a re-run whose Evaluator blessed
    the same model again against itself) returns that version instead of adding a copy.
    """
    os.makedirs(base_directory, exist_ok=True)
    versions = list_versions(base_directory)
    if versions:
        latest = versions[max(versions)]
        if tree_digest(latest) == tree_digest(model_dir):
            return latest, os.path.basename(latest)
    version = str(next_version(base_directory))
    staging = os.path.join(base_directory, f".tmp-{version}-{os.getpid()}")
    try:
        shutil.copytree(model_dir, staging)
        os.rename(staging, os.path.join(base_directory, version))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return os.path.join(base_directory, version), version


class AtomicPusherExecutor(pusher_executor.Executor):
    def Do(self, input_dict: dict[str, list[Any]], output_dict: dict[str, list[Any]],
           exec_properties: dict[str, Any]) -> None:
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("AtomicPusher pushes to a filesystem destination only")
        serving_path, version = push_atomically(model_path,
                                                destination.filesystem.base_directory)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)


EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPusherExecutor)

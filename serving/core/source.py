"""File-system source: the versions under a model's base path that its version policy asks
for, and a fingerprint that tells when a version's files changed."""
from __future__ import annotations

import os

from tensorflow_serving.config import model_server_config_pb2

from serving.core.versions import list_versions


def aspired_versions(config: model_server_config_pb2.ModelConfig) -> dict[int, str]:
    """The versions the model's policy asks for: latest N (default 1), all, or specific."""
    available = list_versions(config.base_path)
    policy = config.model_version_policy
    kind = policy.WhichOneof("policy_choice")
    if kind == "all":
        chosen = sorted(available)
    elif kind == "specific":
        chosen = sorted(v for v in policy.specific.versions if v in available)
    else:
        n = policy.latest.num_versions if kind == "latest" and policy.latest.num_versions else 1
        chosen = sorted(available)[-n:]
    return {v: available[v] for v in chosen}


def version_fingerprint(path: str) -> tuple:
    """Changes when a version's files are rewritten, so a failed version is retried then."""
    stamps = []
    for sub in ("saved_model.pb", "variables", os.path.join("variables", "variables.index"),
                "model.tflite"):
        try:
            st = os.stat(os.path.join(path, sub))
            stamps.append((sub, st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((sub, None, None))
    return tuple(stamps)

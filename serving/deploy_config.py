"""What real TF Serving needs for the pushed models: models.config, the batching parameters
file, a monitoring config and a Kubernetes Deployment + Service for tensorflow/serving."""
from __future__ import annotations

import os

from serving.config.batching_parameters import BatchingParameters
from serving.config.errors import ConfigError
from serving.config.model_config import MODEL_NAME_RE
from serving.core.versions import list_versions

DEFAULT_IMAGE = "tensorflow/serving:2.16.1"
CONTAINER_MODELS = "/models"
CONTAINER_CONFIG = "/config"


def discover_models(serving_root: str) -> dict[str, str]:
    """Model name → base path for each sub-directory of serving_root holding a version."""
    if not os.path.isdir(serving_root):
        return {}
    models = {}
    for name in sorted(os.listdir(serving_root)):
        path = os.path.join(serving_root, name)
        if not os.path.isdir(path) or not MODEL_NAME_RE.match(name):
            continue
        if list_versions(path):
            models[name] = os.path.abspath(path)
    return models


def models_config_text(models: dict[str, str]) -> str:
    """A ModelServerConfig in text format (TF Serving's --model_config_file)."""
    lines = ["model_config_list {"]
    for name, base_path in models.items():
        lines += ["  config {", f'    name: "{name}"', f'    base_path: "{base_path}"',
                  '    model_platform: "tensorflow"', "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def batching_parameters_text(params: BatchingParameters) -> str:
    lines = [f"max_batch_size {{ value: {params.max_batch_size} }}",
             f"batch_timeout_micros {{ value: {params.batch_timeout_micros} }}",
             f"max_enqueued_batches {{ value: {params.max_enqueued_batches} }}",
             f"num_batch_threads {{ value: {params.num_batch_threads} }}"]
    lines += [f"allowed_batch_sizes: {s}" for s in params.allowed_batch_sizes]
    if params.pad_variable_length_inputs:
        lines.append("pad_variable_length_inputs: true")
    return "\n".join(lines) + "\n"


MONITORING_TEXT = ('prometheus_config {\n  enable: true\n'
                   '  path: "/monitoring/prometheus/metrics"\n}\n')


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.rstrip("\n").splitlines())


def kubernetes_manifest(name: str, models: dict[str, str], config_files: dict[str, str],
                        host_path: str, image: str = DEFAULT_IMAGE, replicas: int = 1,
                        volume_claim: str | None = None, batching: bool = True) -> str:
    """ConfigMap + Deployment + Service; the model base path is mounted read-only."""
    args = ["--port=8500", "--rest_api_port=8501",
            f"--model_config_file={CONTAINER_CONFIG}/models.config",
            "--model_config_file_poll_wait_seconds=60",
            f"--monitoring_config_file={CONTAINER_CONFIG}/monitoring.config"]
    if batching:
        args += ["--enable_batching=true",
                 f"--batching_parameters_file={CONTAINER_CONFIG}/batching_parameters.txt"]
    volume = (f"persistentVolumeClaim:\n            claimName: {volume_claim}" if volume_claim
              else f"hostPath:\n            path: {host_path}\n            type: Directory")
    config_data = "\n".join(f"  {file}: |\n{_indent(text, 4)}"
                            for file, text in config_files.items())
    first = next(iter(models))
    arg_lines = "\n".join(f"            - {a}" for a in args)
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
{config_data}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: tensorflow-serving
          image: {image}
          args:
{arg_lines}
          ports:
            - name: grpc
              containerPort: 8500
            - name: rest
              containerPort: 8501
          readinessProbe:
            httpGet:
              path: /v1/models/{first}
              port: 8501
            initialDelaySeconds: 5
            periodSeconds: 5
          volumeMounts:
            - name: models
              mountPath: {CONTAINER_MODELS}
              readOnly: true
            - name: config
              mountPath: {CONTAINER_CONFIG}
              readOnly: true
      volumes:
        - name: models
          {volume}
        - name: config
          configMap:
            name: {name}-config
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
    - name: grpc
      port: 8500
      targetPort: 8500
    - name: rest
      port: 8501
      targetPort: 8501
"""


def write_deploy_config(serving_root: str, out_dir: str, params: BatchingParameters,
                        name: str = "shipyard-serving", image: str = DEFAULT_IMAGE,
                        volume_claim: str | None = None) -> dict[str, str]:
    """Writes models.config, batching_parameters.txt, monitoring.config and kubernetes.yaml.

    Inside the container the models live at /models/<name> (the serving root mounted there).
    """
    models = discover_models(serving_root)
    if not models:
        raise ConfigError(f"no pushed models (numeric version directories) under {serving_root}")
    in_container = {n: f"{CONTAINER_MODELS}/{n}" for n in models}
    files = {"models.config": models_config_text(in_container),
             "batching_parameters.txt": batching_parameters_text(params),
             "monitoring.config": MONITORING_TEXT}
    files["kubernetes.yaml"] = kubernetes_manifest(
        name, in_container, dict(files), os.path.abspath(serving_root), image=image,
        volume_claim=volume_claim)
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    for file, text in files.items():
        path = os.path.join(out_dir, file)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        written[file] = path
    return written

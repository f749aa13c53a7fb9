"""TF Serving's --monitoring_config_file: whether and where Prometheus metrics are served."""
from __future__ import annotations

import dataclasses

from serving.config.errors import ConfigError
from serving.config.text_proto import parse_text_file

DEFAULT_METRICS_PATH = "/monitoring/prometheus/metrics"


@dataclasses.dataclass
class MonitoringConfig:
    enable: bool = False
    path: str = DEFAULT_METRICS_PATH


def load_monitoring_config(path: str) -> MonitoringConfig:
    """Reads TF Serving's MonitoringConfig text (`prometheus_config { enable: true path: ..}`)."""
    fields = parse_text_file(path, "monitoring config file")
    prometheus = (fields.get("prometheus_config") or [{}])[-1]
    if not isinstance(prometheus, dict):
        raise ConfigError(f"invalid monitoring config file {path}: prometheus_config must be "
                          "a message")
    enable = bool(prometheus.get("enable", [False])[-1])
    metrics_path = str(prometheus.get("path", [""])[-1]) or DEFAULT_METRICS_PATH
    if not metrics_path.startswith("/"):
        raise ConfigError(f"invalid monitoring config file {path}: path must start with '/'")
    return MonitoringConfig(enable=enable, path=metrics_path)

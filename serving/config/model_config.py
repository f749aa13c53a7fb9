"""TF Serving's ModelServerConfig (--model_config_file, or one model from --model_name and
--model_base_path), checked the way this server needs it."""
from __future__ import annotations

import os
import re

from google.protobuf import text_format
from tensorflow_serving.config import logging_config_pb2, model_server_config_pb2

from serving.config.errors import ConfigError
from serving.config.text_proto import read_config_file

MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# The request-log collectors serving/api/request_log.py provides (TF Serving's open-source
# binary registers none).
LOG_COLLECTORS = ("tfrecord",)


def check_logging_config(model: str, config: logging_config_pb2.LoggingConfig) -> str | None:
    """The reason a model's logging_config cannot be used, or None."""
    collector = config.log_collector_config
    if collector.type not in LOG_COLLECTORS:
        # TF Serving's own message for an unregistered collector type.
        return (f"model {model!r}: Cannot find LogCollector::Factory for type: "
                f"{collector.type} (Shipyard's server provides: {', '.join(LOG_COLLECTORS)})")
    if not collector.filename_prefix:
        return f"model {model!r}: logging_config needs log_collector_config.filename_prefix"
    rate = config.sampling_config.sampling_rate
    if not 0.0 <= rate <= 1.0:
        return f"model {model!r}: sampling_rate must be in [0, 1], got {rate:g}"
    return None


def validate_model_server_config(config: model_server_config_pb2.ModelServerConfig) -> None:
    if config.WhichOneof("config") == "custom_model_config":
        raise ConfigError("custom_model_config is not supported; use model_config_list")
    seen = set()
    for model in config.model_config_list.config:
        if not MODEL_NAME_RE.match(model.name):
            raise ConfigError(f"invalid model name {model.name!r}: use letters, digits, "
                              "'_', '-' and '.'")
        if model.name in seen:
            raise ConfigError(f"model {model.name!r} is configured twice")
        seen.add(model.name)
        if not model.base_path:
            raise ConfigError(f"model {model.name!r} has no base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise ConfigError(f"model {model.name!r}: unsupported model_platform "
                              f"{model.model_platform!r} (only 'tensorflow')")
        if model.HasField("logging_config"):
            problem = check_logging_config(model.name, model.logging_config)
            if problem:
                raise ConfigError(problem)


def parse_model_server_config(text: str, source: str = "<text>"
                              ) -> model_server_config_pb2.ModelServerConfig:
    """A ModelServerConfig in text format, checked the way the server needs it."""
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        # TF Serving's (protobuf's) wording, which its tests and log scrapers match on.
        raise ConfigError(f"{source}: Error parsing text-format "
                          f"tensorflow.serving.ModelServerConfig: {e}") from None
    validate_model_server_config(config)
    return config


def load_model_server_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    return parse_model_server_config(read_config_file(path, "model config file"), path)


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = os.path.abspath(base_path)
    model.model_platform = "tensorflow"
    validate_model_server_config(config)
    return config

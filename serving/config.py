"""Server options with TF Serving's flag names, ModelServerConfig, batching and monitoring files."""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

DEFAULT_METRICS_PATH = "/monitoring/prometheus/metrics"
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class ConfigError(ValueError):
    """A configuration file or flag the server refuses to start with (one-line message)."""


@dataclasses.dataclass
class BatchingParameters:
    """TF Serving's BatchingParameters (session_bundle_config.proto) with its defaults."""
    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 1000
    num_batch_threads: int = 4
    allowed_batch_sizes: list[int] = dataclasses.field(default_factory=list)
    pad_variable_length_inputs: bool = False

    def validate(self) -> None:
        if self.max_batch_size <= 0 or self.num_batch_threads <= 0 \
                or self.max_enqueued_batches <= 0 or self.batch_timeout_micros < 0:
            raise ConfigError("batching parameters: max_batch_size, num_batch_threads and "
                              "max_enqueued_batches must be > 0, batch_timeout_micros >= 0")
        sizes = self.allowed_batch_sizes
        if sizes:
            if sizes != sorted(set(sizes)) or sizes[0] <= 0:
                raise ConfigError("batching parameters: allowed_batch_sizes must be positive "
                                  "and strictly increasing")
            if sizes[-1] != self.max_batch_size:
                raise ConfigError("batching parameters: the last entry of allowed_batch_sizes "
                                  f"must equal max_batch_size ({self.max_batch_size})")


@dataclasses.dataclass
class MonitoringConfig:
    enable: bool = False
    path: str = DEFAULT_METRICS_PATH


@dataclasses.dataclass
class SSLConfig:
    """TF Serving's SSLConfig (ssl_config.proto): PEM texts, and whether clients must present a
    certificate signed by `custom_ca`."""
    server_key: str
    server_cert: str
    custom_ca: str = ""
    client_verify: bool = False


@dataclasses.dataclass
class ServerOptions:
    port: int = 8500
    rest_api_port: int = 8501
    host: str = "127.0.0.1"
    model_name: str = "default"
    model_base_path: str = ""
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: int = 0
    file_system_poll_wait_seconds: float = 1.0
    enable_batching: bool = False
    batching_parameters_file: str = ""
    monitoring_config_file: str = ""
    enable_model_warmup: bool = True
    rest_api_num_threads: int = 16
    grpc_max_threads: int = 16
    max_request_bytes: int = 64 << 20
    rest_api_enable_cors_support: bool = False
    allow_version_labels_for_unavailable_models: bool = False
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    prefer_tflite_model: bool = False
    ssl_config_file: str = ""
    grpc_socket_path: str = ""


# --- a small reader for protobuf text format (files whose protos pip does not ship) ----------

_TOKEN = re.compile(r'\s*(?:#[^\n]*\n\s*)*(?:("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|'
                    r'([{}:,;\[\]<>])|([^\s{}:,;\[\]<>"\']+))')


def parse_text_proto(text: str) -> dict[str, list[Any]]:
    """Text-format proto as {field: [values]}; a value is a scalar or a nested dict."""
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConfigError(f"cannot parse text proto near: {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group(1) is not None:
            tokens.append(("str", m.group(1)[1:-1].encode().decode("unicode_escape")))
        elif m.group(2) is not None:
            tokens.append(("sym", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("word", m.group(3)))
        pos = len(text) if not text[pos:].strip() else pos
    index = 0

    def message(closing: str | None) -> dict[str, list[Any]]:
        nonlocal index
        fields: dict[str, list[Any]] = {}
        while index < len(tokens):
            kind, value = tokens[index]
            if kind == "sym" and value in ",;":
                index += 1
                continue
            if kind == "sym" and value == closing:
                index += 1
                return fields
            if kind != "word":
                raise ConfigError(f"expected a field name, got {value!r}")
            name = value
            index += 1
            if index < len(tokens) and tokens[index] == ("sym", ":"):
                index += 1
            if index >= len(tokens):
                raise ConfigError(f"missing value for field {name!r}")
            kind, value = tokens[index]
            if kind == "sym" and value in "{<":
                index += 1
                fields.setdefault(name, []).append(message("}" if value == "{" else ">"))
            elif kind == "sym" and value == "[":
                index += 1
                while tokens[index] != ("sym", "]"):
                    if tokens[index] != ("sym", ","):
                        fields.setdefault(name, []).append(_scalar(*tokens[index]))
                    index += 1
                index += 1
            else:
                index += 1
                fields.setdefault(name, []).append(_scalar(kind, value))
        if closing is not None:
            raise ConfigError(f"missing {closing!r} at end of input")
        return fields

    return message(None)


def _scalar(kind: str, value: str) -> Any:
    if kind == "str":
        return value
    if kind != "word":
        raise ConfigError(f"unexpected {value!r}")
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    try:
        return int(value, 0)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from None


def _wrapped(fields: dict[str, list[Any]], name: str, default: Any) -> Any:
    """A google.protobuf wrapper field (`max_batch_size { value: 8 }`) or a plain one."""
    if name not in fields:
        return default
    value = fields[name][-1]
    if isinstance(value, dict):
        return value.get("value", [default])[-1]
    return value


def _parse_text_file(path: str, what: str) -> dict[str, list[Any]]:
    """The fields of a text-format proto file; any problem names the file and what it is."""
    try:
        return parse_text_proto(_read(path, what))
    except ConfigError as e:
        raise ConfigError(f"invalid {what} {path}: {e}") from None


def load_batching_parameters(path: str) -> BatchingParameters:
    """Reads TF Serving's batching parameters file (BatchingParameters in text format)."""
    fields = _parse_text_file(path, "batching parameters file")
    known = {f.name for f in dataclasses.fields(BatchingParameters)}
    unknown = sorted(set(fields) - known - {"thread_pool_name", "num_batch_threads"})
    if unknown:
        raise ConfigError(f"invalid batching parameters file {path}: unknown field "
                          f"{unknown[0]!r}")
    defaults = BatchingParameters()
    try:
        params = BatchingParameters(
            max_batch_size=int(_wrapped(fields, "max_batch_size", defaults.max_batch_size)),
            batch_timeout_micros=int(_wrapped(fields, "batch_timeout_micros",
                                              defaults.batch_timeout_micros)),
            max_enqueued_batches=int(_wrapped(fields, "max_enqueued_batches",
                                              defaults.max_enqueued_batches)),
            num_batch_threads=int(_wrapped(fields, "num_batch_threads",
                                           defaults.num_batch_threads)),
            allowed_batch_sizes=[int(v) for v in fields.get("allowed_batch_sizes", [])],
            pad_variable_length_inputs=bool(_wrapped(fields, "pad_variable_length_inputs",
                                                     False)))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid batching parameters file {path}: {e}") from None
    params.validate()
    return params


def load_monitoring_config(path: str) -> MonitoringConfig:
    """Reads TF Serving's MonitoringConfig text (`prometheus_config { enable: true path: ..}`)."""
    fields = _parse_text_file(path, "monitoring config file")
    prometheus = (fields.get("prometheus_config") or [{}])[-1]
    if not isinstance(prometheus, dict):
        raise ConfigError(f"invalid monitoring config file {path}: prometheus_config must be "
                          "a message")
    enable = bool(prometheus.get("enable", [False])[-1])
    metrics_path = str(prometheus.get("path", [""])[-1]) or DEFAULT_METRICS_PATH
    if not metrics_path.startswith("/"):
        raise ConfigError(f"invalid monitoring config file {path}: path must start with '/'")
    return MonitoringConfig(enable=enable, path=metrics_path)


def load_ssl_config(path: str) -> SSLConfig:
    """Reads TF Serving's --ssl_config_file (SSLConfig in text format)."""
    fields = _parse_text_file(path, "SSL config file")
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(SSLConfig)})
    if unknown:
        raise ConfigError(f"invalid SSL config file {path}: unknown field {unknown[0]!r}")
    values = {name: value[-1] for name, value in fields.items()}
    if not values.get("server_key") or not values.get("server_cert"):
        raise ConfigError(f"invalid SSL config file {path}: server_key and server_cert (PEM "
                          "text) are required")
    config = SSLConfig(server_key=str(values["server_key"]),
                       server_cert=str(values["server_cert"]),
                       custom_ca=str(values.get("custom_ca", "")),
                       client_verify=bool(values.get("client_verify", False)))
    if config.client_verify and not config.custom_ca:
        raise ConfigError(f"invalid SSL config file {path}: client_verify needs custom_ca, the "
                          "authority that signs client certificates")
    return config


def parse_model_server_config(text: str, source: str = "<text>"
                              ) -> model_server_config_pb2.ModelServerConfig:
    """A ModelServerConfig in text format, checked the way the server needs it."""
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as e:
        raise ConfigError(f"{source}: not a valid tensorflow.serving.ModelServerConfig "
                          f"(text format): {e}") from None
    validate_model_server_config(config)
    return config


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
            from serving.request_log import check_logging_config

            problem = check_logging_config(model.name, model.logging_config)
            if problem:
                raise ConfigError(problem)


def load_model_server_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    return parse_model_server_config(_read(path, "model config file"), path)


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = name
    model.base_path = os.path.abspath(base_path)
    model.model_platform = "tensorflow"
    validate_model_server_config(config)
    return config


def _flag_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def build_flag_parser() -> argparse.ArgumentParser:
    """TF Serving's tensorflow_model_server flags (the subset this server implements)."""
    p = argparse.ArgumentParser(
        prog="python -m serving.server",
        description="Shipyard's TF-Serving-compatible model server (gRPC + REST).")
    d = ServerOptions()
    p.add_argument("--port", type=int, default=d.port,
                   help="gRPC port (0 picks a free one; -1: none, with --grpc_socket_path)")
    p.add_argument("--rest_api_port", type=int, default=d.rest_api_port,
                   help="REST port (0 picks a free one; -1 disables REST)")
    p.add_argument("--host", default=d.host,
                   help="interface to bind (default loopback; 0.0.0.0 inside a container)")
    p.add_argument("--model_name", default=d.model_name)
    p.add_argument("--model_base_path", default=d.model_base_path)
    p.add_argument("--model_config_file", default=d.model_config_file)
    p.add_argument("--model_config_file_poll_wait_seconds", type=int,
                   default=d.model_config_file_poll_wait_seconds)
    p.add_argument("--file_system_poll_wait_seconds", type=float,
                   default=d.file_system_poll_wait_seconds)
    p.add_argument("--enable_batching", type=_flag_bool, nargs="?", const=True,
                   default=d.enable_batching)
    p.add_argument("--batching_parameters_file", default=d.batching_parameters_file)
    p.add_argument("--monitoring_config_file", default=d.monitoring_config_file)
    p.add_argument("--enable_model_warmup", type=_flag_bool, nargs="?", const=True,
                   default=d.enable_model_warmup)
    p.add_argument("--rest_api_num_threads", type=int, default=d.rest_api_num_threads)
    p.add_argument("--grpc_max_threads", type=int, default=d.grpc_max_threads)
    p.add_argument("--max_request_bytes", type=int, default=d.max_request_bytes,
                   help="largest accepted request body (REST) or message (gRPC)")
    p.add_argument("--rest_api_enable_cors_support", type=_flag_bool, nargs="?", const=True,
                   default=d.rest_api_enable_cors_support)
    p.add_argument("--allow_version_labels_for_unavailable_models", type=_flag_bool, nargs="?",
                   const=True, default=d.allow_version_labels_for_unavailable_models)
    p.add_argument("--tensorflow_intra_op_parallelism", type=int,
                   default=d.tensorflow_intra_op_parallelism,
                   help="threads inside one op (0: TensorFlow's default, one per core)")
    p.add_argument("--tensorflow_inter_op_parallelism", type=int,
                   default=d.tensorflow_inter_op_parallelism,
                   help="ops run in parallel (0: TensorFlow's default)")
    p.add_argument("--prefer_tflite_model", type=_flag_bool, nargs="?", const=True,
                   default=d.prefer_tflite_model,
                   help="serve a version's model.tflite (LiteRT) instead of its SavedModel "
                        "when it has one")
    p.add_argument("--ssl_config_file", default=d.ssl_config_file,
                   help="SSLConfig in text format: serve gRPC over TLS (REST stays plain, as "
                        "in TF Serving)")
    p.add_argument("--grpc_socket_path", default=d.grpc_socket_path,
                   help="also serve gRPC on this UNIX socket")
    return p


def options_from_flags(argv: Sequence[str] | None = None) -> ServerOptions:
    args = build_flag_parser().parse_args(argv)
    options = ServerOptions(**{f.name: getattr(args, f.name)
                               for f in dataclasses.fields(ServerOptions)})
    if not options.model_config_file and not options.model_base_path:
        raise ConfigError("give --model_base_path (with --model_name) or --model_config_file")
    if options.model_config_file and options.model_base_path:
        raise ConfigError("--model_config_file and --model_base_path are mutually exclusive")
    if options.max_request_bytes <= 0:
        raise ConfigError("--max_request_bytes must be > 0")
    if options.port < 0 and not options.grpc_socket_path:
        raise ConfigError("give a gRPC --port or --grpc_socket_path")
    if options.ssl_config_file:
        load_ssl_config(options.ssl_config_file)  # a bad file stops the server with one line
    return options

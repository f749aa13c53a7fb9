"""Server options with TF Serving's flag names (tensorflow_model_server's command line)."""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from serving.config.errors import ConfigError
from serving.config.ssl_config import load_ssl_config


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

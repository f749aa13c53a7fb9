"""Server options with TF Serving's flag names (tensorflow_model_server's command line).

Every flag of tensorflow_model_server 2.16 is accepted: most are implemented; the few that
concern machinery this server does not have (TPUs, GPUs, XLA, session configs, load thread
pools, ...) are listed in NO_EFFECT_FLAGS and log one line saying so when given.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
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
    rest_api_timeout_in_ms: int = 30000  # TF Serving's default
    grpc_channel_arguments: str = ""  # "key=value,key=value", passed to the gRPC server
    num_request_iterations_for_warmup: int = 0  # 0: the model config's, else 1


log = logging.getLogger("serving.config")
VERSION = "shipyard-model-server 2.16 (TF Serving 2.16.1's APIs and flags)"

# tensorflow_model_server flags that change nothing here: (type, why). Given, each logs a line.
_INT, _FLOAT, _STR, _BOOL = "int", "float", "str", "bool"
NO_EFFECT_FLAGS = {
    "enable_per_model_batching_parameters": (
        _BOOL, "--batching_parameters_file applies to every model"),
    "num_load_threads": (_INT, "versions load one at a time on the manager's thread"),
    "num_unload_threads": (_INT, "versions unload on the manager's thread"),
    "max_num_load_retries": (_INT, "a failed version is retried when its files change"),
    "load_retry_interval_micros": (_INT, "a failed version is retried when its files change"),
    "flush_filesystem_caches": (_BOOL, "there are no file-system caches to flush"),
    "tensorflow_session_parallelism": (
        _INT, "TF2 functions run without a session; use --tensorflow_intra_op_parallelism "
              "and --tensorflow_inter_op_parallelism"),
    "tensorflow_session_config_file": (
        _STR, "TF2 functions run without a session; use --tensorflow_intra_op_parallelism "
              "and --tensorflow_inter_op_parallelism"),
    "platform_config_file": (_STR, "only the TensorFlow platform is served"),
    "per_process_gpu_memory_fraction": (_FLOAT, "this server runs on CPU"),
    "saved_model_tags": (_STR, "versions load their 'serve' MetaGraph"),
    "enable_profiler": (_BOOL, "there is no profiler service"),
    "thread_pool_factory_config_file": (_STR, "there are no custom thread pools"),
    "mixed_precision": (_STR, "models run in the precision they were exported in"),
    "skip_initialize_tpu": (_BOOL, "this server runs on CPU"),
    "enable_grpc_healthcheck_service": (
        _BOOL, "there is no gRPC health service; probe GET /v1/models/NAME or "
               "ModelService.GetModelStatus"),
    "remove_unused_fields_from_bundle_metagraph": (_BOOL, "the MetaGraph is kept as read"),
    "num_tflite_pools": (_INT, "each LiteRT version has one interpreter"),
    "num_tflite_interpreters_per_pool": (_INT, "each LiteRT version has one interpreter"),
    "enable_signature_method_name_check": (
        _BOOL, "classify / regress accept their own and predict method names, as TF Serving "
               "does by default"),
    "xla_cpu_compilation_enabled": (_BOOL, "functions run as exported (no XLA JIT switch)"),
    "xla_gpu_compilation_enabled": (_BOOL, "this server runs on CPU"),
    "enable_serialization_as_tensor_content": (
        _BOOL, "gRPC answers fill the typed value fields"),
}


def parse_grpc_channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """`--grpc_channel_arguments` ("grpc.max_connection_age_ms=2000,grpc.lb_policy_name=x")
    as gRPC server options: a value that is a 32-bit integer is passed as one, as TF Serving
    does; anything else as a string."""
    arguments: list[tuple[str, int | str]] = []
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--grpc_channel_arguments: expected key=value, got {item!r}")
        key, value = key.strip(), value.strip()
        try:
            number = int(value)
        except ValueError:
            number = None
        arguments.append((key, number if number is not None and -2**31 <= number < 2**31
                          else value))
    return arguments


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
                   help="threads inside one op (0: one fewer than the cores, at least 1)")
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
    p.add_argument("--rest_api_timeout_in_ms", type=int, default=d.rest_api_timeout_in_ms,
                   help="a REST call taking longer answers 504 (<= 0: no limit)")
    p.add_argument("--grpc_channel_arguments", default=d.grpc_channel_arguments,
                   help="comma-separated key=value gRPC server arguments, e.g. "
                        "grpc.max_connection_age_ms=2000")
    p.add_argument("--num_request_iterations_for_warmup", type=int,
                   default=d.num_request_iterations_for_warmup,
                   help="times each warm-up request is replayed (a model's "
                        "model_warmup_options win; 0: once)")
    p.add_argument("--use_alts_credentials", type=_flag_bool, nargs="?", const=True,
                   default=False, help="refused when true: ALTS needs Google's infrastructure")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    types = {_INT: int, _FLOAT: float, _STR: str}
    for name, (kind, why) in NO_EFFECT_FLAGS.items():
        if kind == _BOOL:
            p.add_argument(f"--{name}", type=_flag_bool, nargs="?", const=True, default=None,
                           help=f"accepted, no effect: {why}")
        else:
            p.add_argument(f"--{name}", type=types[kind], default=None,
                           help=f"accepted, no effect: {why}")
    return p


def options_from_flags(argv: Sequence[str] | None = None) -> ServerOptions:
    args = build_flag_parser().parse_args(argv)
    if args.version:
        print(VERSION)
        raise SystemExit(0)
    if args.use_alts_credentials:
        raise ConfigError("--use_alts_credentials is not supported (ALTS needs Google's "
                          "infrastructure); use --ssl_config_file for TLS")
    for name, (_, why) in NO_EFFECT_FLAGS.items():
        if getattr(args, name) is not None:
            log.info("--%s has no effect here: %s", name, why)
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
    parse_grpc_channel_arguments(options.grpc_channel_arguments)  # refused here, with one line
    return options

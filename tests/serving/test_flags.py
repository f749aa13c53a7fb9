"""Every tensorflow_model_server flag is accepted: a server started with TF Serving's whole flag
set serves; the flags this server implements take effect; the others log one line each."""
from __future__ import annotations

import logging

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.config.errors import ConfigError
from serving.config.options import (
    NO_EFFECT_FLAGS,
    build_flag_parser,
    options_from_flags,
    parse_grpc_channel_arguments,
)
from serving.server import ModelServer, tensorflow_thread_pools
from tests.serving.helpers import copy_version, http, save_tiny_model

# tensorflow_model_server's flags (model_servers/main.cc, TF Serving 2.16.1 and master).
TF_SERVING_FLAGS = {
    "port", "grpc_socket_path", "rest_api_port", "rest_api_num_threads",
    "rest_api_timeout_in_ms", "rest_api_enable_cors_support", "enable_batching",
    "allow_version_labels_for_unavailable_models",
    "batching_parameters_file", "enable_per_model_batching_parameters", "model_config_file",
    "model_config_file_poll_wait_seconds", "model_name", "model_base_path", "num_load_threads",
    "num_unload_threads", "max_num_load_retries", "load_retry_interval_micros",
    "file_system_poll_wait_seconds", "flush_filesystem_caches", "tensorflow_session_parallelism",
    "tensorflow_session_config_file", "tensorflow_intra_op_parallelism",
    "tensorflow_inter_op_parallelism", "use_alts_credentials", "ssl_config_file",
    "platform_config_file", "per_process_gpu_memory_fraction", "saved_model_tags",
    "grpc_channel_arguments", "grpc_max_threads", "enable_model_warmup",
    "num_request_iterations_for_warmup", "version", "monitoring_config_file",
    "remove_unused_fields_from_bundle_metagraph", "prefer_tflite_model", "num_tflite_pools",
    "num_tflite_interpreters_per_pool", "enable_signature_method_name_check",
    "xla_cpu_compilation_enabled", "xla_gpu_compilation_enabled", "enable_profiler",
    "thread_pool_factory_config_file", "mixed_precision", "skip_initialize_tpu",
    "enable_grpc_healthcheck_service", "enable_serialization_as_tensor_content",
}
USUAL_CHANNEL_ARGUMENTS = "grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb," \
                          "grpc.so_reuseaddr=1"


def test_the_parser_knows_every_tf_serving_flag():
    known = {a.lstrip("-") for action in build_flag_parser()._actions
             for a in action.option_strings}
    assert TF_SERVING_FLAGS - known == set()


def _predict_grpc(server, values: list[float], timeout: float = 30):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([values], np.float32)))
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return tf.make_ndarray(stub.Predict(request, timeout=timeout).outputs["y"])


def test_a_server_started_with_every_flag_serves(tmp_path, caplog):
    base = str(tmp_path / "tiny")
    copy_version(save_tiny_model(str(tmp_path / "tmpl"), k=2.0, warmup=True), base, 1)
    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 1000 }\n")
    monitoring = tmp_path / "monitoring.txt"
    monitoring.write_text('prometheus_config { enable: true path: "/metrics" }\n')
    values = {
        "port": "0", "grpc_socket_path": str(tmp_path / "grpc.sock"), "rest_api_port": "0",
        "rest_api_num_threads": "4", "rest_api_timeout_in_ms": "20000",
        "rest_api_enable_cors_support": "true", "enable_batching": "true",
        "allow_version_labels_for_unavailable_models": "false",
        "batching_parameters_file": str(batching), "model_config_file": "",
        "model_config_file_poll_wait_seconds": "0", "model_name": "tiny",
        "model_base_path": base, "file_system_poll_wait_seconds": "0",
        "tensorflow_intra_op_parallelism": "1", "tensorflow_inter_op_parallelism": "1",
        "use_alts_credentials": "false", "ssl_config_file": "",
        "grpc_channel_arguments": USUAL_CHANNEL_ARGUMENTS, "grpc_max_threads": "8",
        "enable_model_warmup": "true", "num_request_iterations_for_warmup": "2",
        "monitoring_config_file": str(monitoring), "prefer_tflite_model": "false",
    }
    for name, (kind, _) in NO_EFFECT_FLAGS.items():
        values[name] = {"bool": "false", "int": "1", "float": "0.5", "str": "x"}[kind]
    assert set(values) == TF_SERVING_FLAGS - {"version"}
    with caplog.at_level(logging.INFO, logger="serving.config"):
        options = options_from_flags([f"--{k}={v}" for k, v in values.items()])
    assert sorted(r.getMessage() for r in caplog.records) == sorted(
        f"--{name} has no effect here: {why}" for name, (_, why) in NO_EFFECT_FLAGS.items())
    options.host = "127.0.0.1"
    server = ModelServer(options).start()
    try:
        # Warm-up replayed its 3 records twice (--num_request_iterations_for_warmup=2).
        assert http(server, "POST", "/v1/models/tiny:predict",
                    {"signature_name": "count", "instances": [0.0]}) == \
            (200, {"predictions": [7]})
        assert http(server, "POST", "/v1/models/tiny:predict",
                    {"instances": [[1.0, 2.0]]}) == \
            (200, {"predictions": [{"total": 3.0, "y": [3.0, 5.0]}]})
        np.testing.assert_array_equal(_predict_grpc(server, [1.0, 2.0]), [[3.0, 5.0]])
        status, text = http(server, "GET", "/metrics")
        assert status == 200 and ":tensorflow:serving:request_count" in text
    finally:
        server.stop(grace=1.0)


def test_grpc_channel_arguments():
    assert parse_grpc_channel_arguments(USUAL_CHANNEL_ARGUMENTS) == [
        ("grpc.max_connection_age_ms", 2000), ("grpc.lb_policy_name", "grpclb"),
        ("grpc.so_reuseaddr", 1)]
    assert parse_grpc_channel_arguments("") == []
    assert parse_grpc_channel_arguments("a=99999999999") == [("a", "99999999999")]
    with pytest.raises(ConfigError, match="^--grpc_channel_arguments: expected key=value, "
                                          "got 'grpc.so_reuseaddr'$"):
        options_from_flags(["--model_base_path=/m", "--grpc_channel_arguments=grpc.so_reuseaddr"])


def test_grpc_channel_arguments_reach_the_server(tmp_path):
    base = str(tmp_path / "tiny")
    save_tiny_model(str(tmp_path / "tiny" / "1"))
    options = options_from_flags([
        "--port=0", "--rest_api_port=-1", "--model_name=tiny", f"--model_base_path={base}",
        "--file_system_poll_wait_seconds=0",
        "--grpc_channel_arguments=grpc.max_receive_message_length=200"])
    server = ModelServer(options).start()
    try:
        np.testing.assert_array_equal(_predict_grpc(server, [1.0, 2.0]), [[3.0, 5.0]])
        with pytest.raises(grpc.RpcError) as error:  # over 200 bytes
            _predict_grpc(server, [0.0] * 100)
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop(grace=1.0)


def test_version_and_alts(capsys):
    with pytest.raises(SystemExit) as done:
        options_from_flags(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == \
        "shipyard-model-server 2.16 (TF Serving 2.16.1's APIs and flags)\n"
    with pytest.raises(ConfigError, match="^--use_alts_credentials is not supported"):
        options_from_flags(["--model_base_path=/m", "--use_alts_credentials"])


def test_unset_tensorflow_pools_leave_a_core_to_the_server():
    assert tensorflow_thread_pools(0, 0, cores=2) == (1, 0)
    assert tensorflow_thread_pools(0, 0, cores=1) == (1, 0)
    assert tensorflow_thread_pools(0, 2, cores=8) == (7, 2)
    assert tensorflow_thread_pools(3, 1, cores=2) == (3, 1)  # the flags win

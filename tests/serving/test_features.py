"""Warm-up, batching, Prometheus metrics, request size limits, SIGTERM and bad configs."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.api.batching import BatchScheduler
from serving.config.batching_parameters import BatchingParameters, load_batching_parameters
from serving.config.errors import ConfigError
from serving.config.model_config import parse_model_server_config
from serving.config.monitoring import load_monitoring_config
from serving.core.loader import Servable
from tests.serving.helpers import REPO, copy_version, http, running_server, save_tiny_model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_model(str(tmp_path_factory.mktemp("feat") / "tiny"), k=2.0, warmup=True)


def test_warmup_is_replayed_before_available(tmp_path, tiny_dir):
    base = str(tmp_path / "m")
    copy_version(tiny_dir, base, 1)
    with running_server(model_name="m", model_base_path=base,
                        file_system_poll_wait_seconds=0) as server:
        # Three warm-up calls ran before this first request.
        assert http(server, "POST", "/v1/models/m:predict",
                    {"signature_name": "count", "instances": [0.0]}) == \
            (200, {"predictions": [4]})
    with running_server(model_name="m", model_base_path=base, enable_model_warmup=False,
                        file_system_poll_wait_seconds=0) as server:
        assert http(server, "POST", "/v1/models/m:predict",
                    {"signature_name": "count", "instances": [0.0]})[1] == {"predictions": [1]}


def test_failing_warmup_fails_the_version(tmp_path, tiny_dir):
    from serving.core.warmup import write_predict_warmup

    base = str(tmp_path / "m")
    version = copy_version(tiny_dir, base, 1)
    write_predict_warmup(version, {"wrong_input": [1.0]}, signature_name="count")
    with running_server(model_name="m", model_base_path=base,
                        file_system_poll_wait_seconds=0) as server:
        status, body = http(server, "GET", "/v1/models/m")
        entry = body["model_version_status"][0]
        assert entry["state"] == "END"
        assert entry["status"]["error_code"] == "INVALID_ARGUMENT"
        assert entry["status"]["error_message"].startswith(
            "Failed to warm up model m version 1: input size does not match signature")


def test_batching_parameters_and_monitoring_files(tmp_path):
    path = tmp_path / "batching.txt"
    path.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 20000 }\n"
                    "num_batch_threads { value: 2 }\nmax_enqueued_batches { value: 4 }\n"
                    "allowed_batch_sizes: 2\nallowed_batch_sizes: 4\nallowed_batch_sizes: 8\n"
                    "pad_variable_length_inputs: true\n")
    assert load_batching_parameters(str(path)) == BatchingParameters(
        max_batch_size=8, batch_timeout_micros=20000, max_enqueued_batches=4,
        num_batch_threads=2, allowed_batch_sizes=[2, 4, 8], pad_variable_length_inputs=True)
    path.write_text("max_batch_size { value: 8 }\nallowed_batch_sizes: 4\n")
    with pytest.raises(ConfigError, match="must equal max_batch_size"):
        load_batching_parameters(str(path))
    path.write_text("max_batch_size { value: 8 \n")
    with pytest.raises(ConfigError, match="invalid batching parameters file"):
        load_batching_parameters(str(path))


def test_tf_serving_monitoring_config(tfserving):
    monitoring = load_monitoring_config(os.path.join(tfserving, "monitoring_config.txt"))
    assert (monitoring.enable, monitoring.path) == (True, "/monitoring/prometheus/metrics")


def test_bad_model_config_is_refused(tfserving):
    with open(os.path.join(tfserving, "bad_model_config.txt")) as f:
        text = f.read()
    # TF Serving's wording (its testBadModelConfig looks for it in the server's log).
    with pytest.raises(ConfigError, match="^<text>: Error parsing text-format "
                                          "tensorflow.serving.ModelServerConfig: 1:1 : "):
        parse_model_server_config(text)
    with pytest.raises(ConfigError, match="invalid model name"):
        parse_model_server_config('model_config_list { config { name: "../x" base_path: "/m" } }')


def test_scheduler_merges_concurrent_requests(tiny_dir):
    servable = Servable("tiny", 1, tiny_dir)
    from serving.api.metrics import Metrics

    metrics = Metrics()
    scheduler = BatchScheduler(BatchingParameters(max_batch_size=8, batch_timeout_micros=200000,
                                                  num_batch_threads=1,
                                                  allowed_batch_sizes=[4, 8]), metrics)
    scheduler.attach(servable)
    try:
        results, errors = {}, []

        def call(i: int) -> None:
            try:
                x = np.array([[float(i), 0.0]], np.float32)
                results[i] = servable.run("serving_default", {"x": x})["y"][0, 0]
            except Exception as e:  # noqa: BLE001 - collected for the assertion
                errors.append(e)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert results == {i: 2.0 * i + 1.0 for i in range(6)}
        text = metrics.render()
        count = int(re.search(r'processed_batch_size_count\{model_name="tiny"\} (\d+)',
                              text).group(1))
        total = float(re.search(r'processed_batch_size_sum\{model_name="tiny"\} (\S+)',
                                text).group(1))
        assert count < 6  # merged: fewer model calls than requests
        assert total % 4 == 0  # padded to an allowed batch size
        with pytest.raises(Exception, match="larger than maximum input batch size 8"):
            servable.run("serving_default", {"x": np.zeros((9, 2), np.float32)})
    finally:
        scheduler.stop()


def test_concurrent_grpc_predicts_are_answered_from_one_batch(tmp_path, tiny_dir):
    """Eight concurrent gRPC Predicts fill one batch of 8, and each gets its own rows back."""
    base = str(tmp_path / "m")
    copy_version(tiny_dir, base, 1)
    batching = tmp_path / "batching.txt"
    # A batch closes when full or after 60 s: only a full batch answers in time.
    batching.write_text("max_batch_size { value: 8 }\nbatch_timeout_micros { value: 60000000 }"
                        "\nnum_batch_threads { value: 1 }\n")
    with running_server(model_name="m", model_base_path=base, enable_batching=True,
                        batching_parameters_file=str(batching), enable_model_warmup=False,
                        file_system_poll_wait_seconds=0) as server, \
            grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        calls = []
        for i in range(8):
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "m"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[i, 1.0]], np.float32)))
            calls.append(stub.Predict.future(request, timeout=30))
        totals = [list(call.result().outputs["total"].float_val) for call in calls]
        assert totals == [[i + 1.0] for i in range(8)]
        text = server.metrics.render()
        assert ':tensorflow:serving:batching_session:processed_batch_size_count' \
               '{model_name="m"} 1\n' in text
        assert ':tensorflow:serving:batching_session:processed_batch_size_sum' \
               '{model_name="m"} 8\n' in text


def test_stopping_the_scheduler_fails_queued_tasks_at_once(tiny_dir):
    """A task queued in a batch that will never run (its scheduler stopped) fails with
    UNAVAILABLE right away instead of holding its caller for TASK_WAIT_SECONDS; later tasks
    are refused the same way."""
    from serving.core.errors import ServingError

    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=60_000_000,
                                num_batch_threads=1)
    scheduler = BatchScheduler(params)
    servable = Servable("m", 1, tiny_dir)
    queued = scheduler.submit(servable, "serving_default", {"x": np.zeros((1, 2), np.float32)})
    started = time.monotonic()
    scheduler.stop()
    with pytest.raises(ServingError) as info:
        queued.result(timeout=5)
    assert (info.value.code, info.value.message) == (grpc.StatusCode.UNAVAILABLE,
                                                     "The server is shutting down")
    with pytest.raises(ServingError, match="^The server is shutting down$"):
        scheduler.run(servable, "serving_default", {"x": np.zeros((1, 2), np.float32)})
    assert time.monotonic() - started < 5


def test_server_batching_metrics_and_size_limit(tmp_path, tiny_dir):
    base = str(tmp_path / "m")
    copy_version(tiny_dir, base, 1)
    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 5000 }\n"
                        "num_batch_threads { value: 2 }\n")
    monitoring = tmp_path / "monitoring.txt"
    monitoring.write_text('prometheus_config: { enable: true, path: "/metrics/x" }\n')
    with running_server(model_name="m", model_base_path=base, enable_batching=True,
                        batching_parameters_file=str(batching),
                        monitoring_config_file=str(monitoring), max_request_bytes=4096,
                        file_system_poll_wait_seconds=0) as server:
        answers = []

        def client(i: int) -> None:
            answers.append(http(server, "POST", "/v1/models/m:predict",
                                {"instances": [[float(i), 1.0]]}))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(a[1]["predictions"][0]["total"] for a in answers) == \
            [i + 1.0 for i in range(8)]
        assert {a[0] for a in answers} == {200}

        status, body = http(server, "POST", "/v1/models/m:predict",
                            {"instances": [[0.0, 0.0]] * 400})
        assert status == 413 and "exceeds the server's limit of 4096 bytes" in body["error"]
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "m"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.zeros((1000, 2), np.float32)))
            with pytest.raises(grpc.RpcError) as info:
                stub.Predict(request, timeout=30)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((2, 2), np.float32)))
            assert list(stub.Predict(request, timeout=30).outputs["total"].float_val) == \
                [2.0, 2.0]
        http(server, "POST", "/v1/models/nope:predict", {"instances": [1]})

        status, text = http(server, "GET", "/metrics/x")
        assert status == 200
        assert (':tensorflow:serving:request_count{model_name="m",model_version="1",'
                'API="predict",entrypoint="REST",status="OK"} 8') in text
        assert (':tensorflow:serving:request_count{model_name="m",model_version="1",'
                'API="predict",entrypoint="GRPC",status="OK"} 1') in text
        assert 'model_name="nope",model_version="",API="predict",entrypoint="REST",' \
               'status="404"} 1' in text
        assert ':tensorflow:serving:request_latency_count{model_name="m",model_version="1",' \
               'API="predict",entrypoint="REST"} 8' in text
        assert ':tensorflow:serving:batching_session:processed_batch_size_count' in text


def _start_subprocess(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, "-m", "serving.server", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_subprocess_serves_and_stops_cleanly_on_sigterm(tmp_path, tiny_dir):
    base = str(tmp_path / "m")
    copy_version(tiny_dir, base, 1)
    process = _start_subprocess(["--port=0", "--rest_api_port=0", "--model_name=m",
                                 f"--model_base_path={base}"])
    try:
        ready = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not ready.startswith("READY"):
            ready = process.stdout.readline()
            if not ready and process.poll() is not None:
                break
        assert ready.startswith("READY grpc=127.0.0.1:"), process.stderr.read()
        rest_port = int(ready.split("rest=127.0.0.1:")[1])

        class Target:
            pass

        target = Target()
        target.rest_port = rest_port
        assert http(target, "POST", "/v1/models/m:predict", {"instances": [[1.0, 1.0]]}) == \
            (200, {"predictions": [{"total": 2.0, "y": [3.0, 3.0]}]})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_subprocess_refuses_bad_config(generated_tfserving):
    bad = os.path.join(generated_tfserving, "bad_model_config.txt")
    process = _start_subprocess(["--port=0", "--rest_api_port=0", f"--model_config_file={bad}"])
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in stderr


def test_tensorflow_text_ops_are_registered_only_for_models_that_use_them(tmp_path, tiny_dir):
    # A fresh interpreter each: TensorFlow Text's ops, once registered, stay for the process.
    save = ("import sys, tensorflow as tf, tensorflow_text as text\n"
            "class M(tf.Module):\n"
            "    def __init__(self):\n"
            "        self.tok = text.FastWordpieceTokenizer(['a', '##b', '[UNK]'],"
            " token_out_type=tf.int64)\n"
            "    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])\n"
            "    def ids(self, s):\n"
            "        return {'ids': self.tok.tokenize(s).to_tensor()}\n"
            "m = M(); tf.saved_model.save(m, sys.argv[1], signatures={'serving_default': m.ids})\n")
    text_dir = str(tmp_path / "wordpieces")
    subprocess.run([sys.executable, "-c", save, text_dir], check=True, cwd=REPO,
                   capture_output=True)
    serve = ("import sys\n"
             "from serving.core.loader import load_servable\n"
             "s = load_servable('m', 1, sys.argv[1])\n"
             "print('tensorflow_text' in sys.modules, sorted(s.signature_defs))\n")
    answers = {}
    for path in (text_dir, tiny_dir):
        run = subprocess.run([sys.executable, "-c", serve, path], cwd=REPO, text=True,
                             capture_output=True, env={**os.environ, "PYTHONPATH": REPO})
        assert run.returncode == 0, run.stderr[-2000:]
        answers[path] = run.stdout.split("\n")[-2]
    assert answers[text_dir].startswith("True ")
    assert answers[tiny_dir].startswith("False ")

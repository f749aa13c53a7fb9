"""Version management: hot swap under load, broken versions, policies, labels, config reload."""
from __future__ import annotations

import os
import shutil
import threading
import time

import grpc
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from serving.core.errors import ServingError
from tests.serving.helpers import copy_version, http, running_server, save_tiny_model


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    root = tmp_path_factory.mktemp("templates")
    return {k: save_tiny_model(str(root / f"k{k}"), k=float(k)) for k in (1, 2, 3)}


def _config(text: str) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _states(server, name: str) -> dict[str, str]:
    status, body = http(server, "GET", f"/v1/models/{name}")
    return {v["version"]: v["state"] for v in body.get("model_version_status", [])} \
        if status == 200 else {}


def test_hot_swap_under_concurrent_load_has_no_failed_request(tmp_path, templates):
    base = str(tmp_path / "m")
    copy_version(templates[1], base, 1)
    with running_server(model_name="m", model_base_path=base,
                        file_system_poll_wait_seconds=0.1) as server:
        stop = threading.Event()
        failures, seen = [], set()
        lock = threading.Lock()

        def rest_client() -> None:
            for _ in range(3000):
                if stop.is_set():
                    return
                status, body = http(server, "POST", "/v1/models/m:predict",
                                    {"instances": [[1.0, 0.0]]}, timeout=10)
                with lock:
                    if status != 200:
                        failures.append((status, body))
                    else:
                        seen.add(body["predictions"][0]["y"][0])

        def grpc_client() -> None:
            with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
                stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
                request = predict_pb2.PredictRequest()
                request.model_spec.name = "m"
                request.inputs["x"].CopyFrom(tf.make_tensor_proto([[1.0, 0.0]], tf.float32))
                for _ in range(3000):
                    if stop.is_set():
                        return
                    try:
                        y = stub.Predict(request, timeout=10).outputs["y"].float_val[0]
                        with lock:
                            seen.add(y)
                    except grpc.RpcError as e:
                        with lock:
                            failures.append((e.code(), e.details()))

        clients = [threading.Thread(target=f) for f in (rest_client, rest_client, grpc_client,
                                                        grpc_client)]
        for c in clients:
            c.start()
        try:
            assert _wait_for(lambda: 2.0 in seen)
            copy_version(templates[2], base, 2)
            assert _wait_for(lambda: 3.0 in seen), "version 2 never answered"
            assert _wait_for(lambda: _states(server, "m") == {"2": "AVAILABLE", "1": "END"})
            copy_version(templates[3], base, 3)
            assert _wait_for(lambda: 4.0 in seen), "version 3 never answered"
            time.sleep(0.3)
        finally:
            stop.set()
            for c in clients:
                c.join(timeout=30)
        assert failures == []
        assert seen == {2.0, 3.0, 4.0}


def test_broken_version_is_reported_and_old_one_keeps_serving(tmp_path, templates):
    base = str(tmp_path / "m")
    copy_version(templates[1], base, 1)
    with running_server(model_name="m", model_base_path=base,
                        file_system_poll_wait_seconds=0.1) as server:
        broken = os.path.join(base, ".tmp-2")
        shutil.copytree(templates[2], broken)
        with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
            f.write(b"this is not a protobuf")
        os.rename(broken, os.path.join(base, "2"))
        assert _wait_for(lambda: _states(server, "m").get("2") == "END")
        status, body = http(server, "GET", "/v1/models/m")
        by_version = {v["version"]: v for v in body["model_version_status"]}
        assert by_version["1"]["state"] == "AVAILABLE"
        assert by_version["2"]["status"]["error_code"] == "DATA_LOSS"
        assert "Could not parse SavedModel proto" in by_version["2"]["status"]["error_message"]
        assert http(server, "POST", "/v1/models/m:predict", {"instances": [[1.0, 0.0]]}) == \
            (200, {"predictions": [{"total": 1.0, "y": [2.0, 1.0]}]})

        os.makedirs(os.path.join(base, "3"))  # a version with no files at all
        assert _wait_for(lambda: _states(server, "m").get("3") == "END")
        status, body = http(server, "GET", "/v1/models/m/versions/3")
        assert body["model_version_status"][0]["status"]["error_code"] == "NOT_FOUND"
        assert http(server, "POST", "/v1/models/m/versions/1:predict",
                    {"instances": [[0.0, 0.0]]})[0] == 200

        # A fixed version 4 replaces version 1.
        copy_version(templates[3], base, 4)
        assert _wait_for(lambda: _states(server, "m").get("1") == "END")
        assert http(server, "POST", "/v1/models/m:predict", {"instances": [[1.0, 0.0]]})[1] \
            == {"predictions": [{"total": 1.0, "y": [4.0, 1.0]}]}


def test_version_policies(tmp_path, templates):
    base = str(tmp_path / "m")
    for v in (1, 2, 3):
        copy_version(templates[v], base, v)
    for policy, expected in (("all {}", {"1", "2", "3"}), ("latest { num_versions: 2 }",
                                                           {"2", "3"}),
                             ("specific { versions: 1 versions: 3 }", {"1", "3"})):
        config = _config(f'model_config_list {{ config {{ name: "m" base_path: "{base}" '
                         f'model_platform: "tensorflow" model_version_policy {{ {policy} }} }} }}')
        with running_server(model_config=config, file_system_poll_wait_seconds=0) as server:
            assert _states(server, "m") == {v: "AVAILABLE" for v in expected}
            # Latest serves the highest available version; others by number.
            assert http(server, "POST", "/v1/models/m:predict",
                        {"instances": [[1.0, 0.0]]})[1]["predictions"][0]["y"][0] == 4.0
            low = min(expected)
            assert http(server, "POST", f"/v1/models/m/versions/{low}:predict",
                        {"instances": [[1.0, 0.0]]})[1]["predictions"][0]["y"][0] == \
                float(low) + 1


def test_labels_and_reload_config(tmp_path, templates, generated_tfserving):
    base = str(tmp_path / "m")
    for v in (1, 2):
        copy_version(templates[v], base, v)
    text = (f'model_config_list {{ config {{ name: "m" base_path: "{base}" '
            'model_version_policy { all {} } version_labels { key: "stable" value: 1 } '
            'version_labels { key: "canary" value: 2 } } }')
    with running_server(model_config=_config(text), file_system_poll_wait_seconds=0) as server:
        assert http(server, "POST", "/v1/models/m/labels/canary:predict",
                    {"instances": [[1.0, 0.0]]})[1]["predictions"][0]["y"][0] == 3.0
        assert http(server, "POST", "/v1/models/m/labels/stable:predict",
                    {"instances": [[1.0, 0.0]]})[1]["predictions"][0]["y"][0] == 2.0
        assert _states(server, "m") == {"1": "AVAILABLE", "2": "AVAILABLE"}
        status, body = http(server, "GET", "/v1/models/m/labels/stable")
        assert status == 200 and len(body["model_version_status"]) == 2
        assert http(server, "GET", "/v1/models/m/labels/beta") == \
            (400, {"error": "Unrecognized servable version label: beta"})

        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            stub = model_service_pb2_grpc.ModelServiceStub(channel)
            bad = model_management_pb2.ReloadConfigRequest(config=_config(
                text.replace('value: 2', 'value: 7')))
            response = stub.HandleReloadConfigRequest(bad, timeout=60)
            assert response.status.error_code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
            assert response.status.error_message == (
                "Request to assign label to version 7 of model m, which is not currently "
                "available for inference")

            hp2 = os.path.join(generated_tfserving, "saved_model_half_plus_two_cpu")
            good = _config(text.replace('value: 2 }', 'value: 1 }') +
                           "")
            good.model_config_list.config.add(name="hp2", base_path=hp2,
                                              model_platform="tensorflow")
            response = stub.HandleReloadConfigRequest(
                model_management_pb2.ReloadConfigRequest(config=good), timeout=60)
            assert response.status.error_code == 0, response.status.error_message
        assert http(server, "POST", "/v1/models/m/labels/canary:predict",
                    {"instances": [[1.0, 0.0]]})[1]["predictions"][0]["y"][0] == 2.0
        assert http(server, "POST", "/v1/models/hp2:predict", {"instances": [1.0]}) == \
            (200, {"predictions": [2.5]})


def test_label_on_unavailable_version_refused_at_start(tmp_path, templates):
    base = str(tmp_path / "m")
    copy_version(templates[1], base, 1)
    text = (f'model_config_list {{ config {{ name: "m" base_path: "{base}" '
            'version_labels { key: "stable" value: 5 } } }')
    with pytest.raises(ServingError, match="version 5 of model m, which is not currently"):
        with running_server(model_config=_config(text), file_system_poll_wait_seconds=0):
            pass


def test_multi_model_config_file(tfserving):
    with open(os.path.join(tfserving, "models.config.in")) as f:
        text = f.read().replace("${DATA}", tfserving)
    with running_server(model_config=_config(text), file_system_poll_wait_seconds=0) as server:
        assert http(server, "POST", "/v1/models/half_plus_two:predict",
                    {"instances": [1.0]}) == (200, {"predictions": [2.5]})
        assert http(server, "POST",
                    "/v1/models/saved_model_half_plus_two_2_versions/labels/Version_Label:predict",
                    {"instances": [1.0]}) == (200, {"predictions": [2.5]})
        assert _states(server, "saved_model_half_plus_two_2_versions") == {"123": "AVAILABLE"}
        with open(os.path.join(tfserving,
                               "saved_model_half_plus_two_2_versions_metadata.json")) as f:
            import json

            expected = json.load(f)
        status, body = http(server, "GET",
                            "/v1/models/saved_model_half_plus_two_2_versions/metadata")
        assert status == 200
        assert body["metadata"] == expected["metadata"]
        # TF Serving's test_tf_saved_model_save_multiple_signatures: scalar outputs 1.0 / 2.0.
        path = "/v1/models/tf_saved_model_save_multiple_signatures:predict"
        assert http(server, "POST", path, {"inputs": [1.0]}) == (200, {"outputs": 1.0})
        assert http(server, "POST", path, {"inputs": [1.0],
                                           "signature_name": "custom_signature_key"}) == \
            (200, {"outputs": 2.0})
        assert http(server, "POST", path, {"instances": [1.0]}) == \
            (400, {"error": "Tensor name: y has no shape information "})
        assert http(server, "POST", "/v1/models/keras_sequential_saved_model_save:predict",
                    {"instances": [[1.0]]})[0] == 200


def test_model_config_file_is_polled(tmp_path, templates):
    for name in ("a", "b"):
        copy_version(templates[1 if name == "a" else 2], str(tmp_path / name), 1)
    config_file = tmp_path / "models.config"

    def write(names: list[str]) -> None:
        entries = " ".join(f'config {{ name: "{n}" base_path: "{tmp_path / n}" }}' for n in names)
        config_file.write_text(f"model_config_list {{ {entries} }}")

    write(["a"])
    with running_server(model_config_file=str(config_file),
                        model_config_file_poll_wait_seconds=1,
                        file_system_poll_wait_seconds=0) as server:
        assert http(server, "GET", "/v1/models/b")[0] == 404
        write(["b"])
        assert _wait_for(lambda: _states(server, "b") == {"1": "AVAILABLE"})
        assert http(server, "POST", "/v1/models/b:predict", {"instances": [[1.0, 0.0]]})[1] == \
            {"predictions": [{"total": 1.0, "y": [3.0, 1.0]}]}
        assert _wait_for(lambda: http(server, "GET", "/v1/models/a")[0] == 404)

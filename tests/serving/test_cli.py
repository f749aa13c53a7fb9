"""`shipyard predict`, `shipyard serve` (its refusals) and `shipyard deploy-config`."""
from __future__ import annotations

import json
import os
import socket

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pipelines.cli import main
from tests.serving.helpers import copy_version, running_server, save_tiny_model


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    copy_version(save_tiny_model(str(root / "tmpl"), k=2.0), str(root / "serving" / "tiny"), 5)
    with running_server(model_name="tiny", model_base_path=str(root / "serving" / "tiny"),
                        file_system_poll_wait_seconds=0) as s:
        s.output_dir = str(root)
        yield s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_predict_over_rest_and_grpc(server, capsys):
    body = '{"instances": [[1.0, 2.0]]}'
    assert main(["predict", "tiny", "--json", body,
                 "--server", f"127.0.0.1:{server.rest_port}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"predictions": [{"total": 3.0,
                                                                    "y": [3.0, 5.0]}]}
    assert main(["predict", "tiny", "--json", body, "--grpc", "--version", "5",
                 "--server", f"127.0.0.1:{server.grpc_port}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"predictions": [{"total": 3.0,
                                                                    "y": [3.0, 5.0]}]}
    assert main(["predict", "tiny", "--json", '{"examples": [{"x": 0.5}]}', "--grpc",
                 "--method", "regress", "--signature", "regress",
                 "--server", f"127.0.0.1:{server.grpc_port}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"results": [1.0]}


def test_predict_errors_are_one_line(server, capsys):
    assert main(["predict", "other", "--json", '{"instances": [1]}',
                 "--server", f"127.0.0.1:{server.rest_port}"]) == 2
    assert capsys.readouterr().err == \
        "error: server answered 404: Servable not found for request: Latest(other)\n"
    assert main(["predict", "tiny", "--json", '{"instances": [1]}', "--grpc",
                 "--signature", "nope", "--server", f"127.0.0.1:{server.grpc_port}"]) == 2
    assert capsys.readouterr().err == "error: model tiny has no signature 'nope'\n"
    assert main(["predict", "tiny", "--json", "{oops"]) == 2
    assert "request is not valid JSON" in capsys.readouterr().err
    port = _free_port()
    assert main(["predict", "tiny", "--json", "{}", "--server", f"127.0.0.1:{port}"]) == 2
    assert "cannot reach the model server" in capsys.readouterr().err


def test_serve_refuses_missing_models_and_bad_config(tmp_path, capsys):
    assert main(["serve", "--output-dir", str(tmp_path)]) == 2
    assert "no pushed models under" in capsys.readouterr().err
    bad = tmp_path / "bad.config"
    bad.write_text("model_config_list { config { nme: 'x' } }")
    assert main(["serve", "--config", str(bad)]) == 2
    assert "tensorflow.serving.ModelServerConfig" in capsys.readouterr().err
    good = tmp_path / "good.config"
    good.write_text(f"model_config_list {{ config {{ name: 'x' base_path: '{tmp_path}' }} }}")
    ssl = tmp_path / "ssl.config"
    ssl.write_text('server_key: "k"\n')
    assert main(["serve", "--config", str(good), "--ssl-config", str(ssl)]) == 2
    assert capsys.readouterr().err == (f"error: invalid SSL config file {ssl}: server_key and "
                                       "server_cert (PEM text) are required\n")


def test_deploy_config(server, tmp_path, capsys):
    out = str(tmp_path / "deploy")
    assert main(["deploy-config", "--output-dir", server.output_dir, "--out", out]) == 0
    assert "kubectl apply -f" in capsys.readouterr().out
    with open(os.path.join(out, "models.config")) as f:
        config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    assert [(m.name, m.base_path) for m in config.model_config_list.config] == [
        ("tiny", "/models/tiny")]
    from serving.config.batching_parameters import load_batching_parameters
    from serving.config.monitoring import load_monitoring_config

    params = load_batching_parameters(os.path.join(out, "batching_parameters.txt"))
    assert params.max_batch_size == 32 and params.allowed_batch_sizes[-1] == 32
    assert load_monitoring_config(os.path.join(out, "monitoring.config")).enable
    with open(os.path.join(out, "kubernetes.yaml")) as f:
        docs = list(yaml.safe_load_all(f))
    assert [d["kind"] for d in docs] == ["ConfigMap", "Deployment", "Service"]
    container = docs[1]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "tensorflow/serving:2.16.1"
    assert "--model_config_file=/config/models.config" in container["args"]
    assert "--enable_batching=true" in container["args"]
    volumes = {v["name"]: v for v in docs[1]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["models"]["hostPath"]["path"] == os.path.join(server.output_dir, "serving")
    assert docs[0]["data"]["models.config"].startswith("model_config_list {")
    assert {p["port"] for p in docs[2]["spec"]["ports"]} == {8500, 8501}

    assert main(["deploy-config", "--output-dir", str(tmp_path / "none"), "--out", out]) == 2
    assert "no pushed models" in capsys.readouterr().err

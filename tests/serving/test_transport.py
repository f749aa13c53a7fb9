"""gRPC over TLS (--ssl_config_file), on a UNIX socket (--grpc_socket_path), and request
logging (logging_config in the model config), through the official stubs."""
from __future__ import annotations

import datetime
import glob
import ipaddress
import os
import re

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)

from serving.api.handlers import WARMUP_HANDLERS
from serving.config.errors import ConfigError
from serving.config.model_config import parse_model_server_config
from serving.config.options import options_from_flags
from serving.config.ssl_config import load_ssl_config
from serving.core.loader import load_servable
from serving.core.warmup import WARMUP_FILE, replay_warmup
from tests.serving.helpers import copy_version, http, running_server, save_tiny_model

TIMEOUT = 30


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    base = tmp_path_factory.mktemp("transport")
    save_tiny_model(str(base / "1"), k=2.0)
    return base


def _predict_request(x: list[float]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([x], dtype=tf.float32))
    return request


def _predict(channel: grpc.Channel, x: list[float]) -> list[float]:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response = stub.Predict(_predict_request(x), TIMEOUT)
    return tf.make_ndarray(response.outputs["y"]).ravel().tolist()


# --- TLS -----------------------------------------------------------------------------------

def _pem_pair(name: str, issuer=None, ca: bool = False):
    """(key PEM, certificate PEM, key, certificate) signed by `issuer` (key, cert) or self."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, signer_cert = issuer if issuer else (key, None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(signer_cert.subject if signer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), key, cert


def _text(pem: bytes) -> str:
    return '"' + pem.decode().replace("\n", "\\n") + '"'


@pytest.fixture(scope="module")
def pki():
    ca_key_pem, ca_pem, ca_key, ca_cert = _pem_pair("Shipyard test CA", ca=True)
    server_key, server_cert, _, _ = _pem_pair("localhost", issuer=(ca_key, ca_cert))
    client_key, client_cert, _, _ = _pem_pair("client", issuer=(ca_key, ca_cert))
    return {"ca": ca_pem, "server_key": server_key, "server_cert": server_cert,
            "client_key": client_key, "client_cert": client_cert}


def test_tls_with_client_verification(tmp_path, tiny_base, pki):
    ssl_file = tmp_path / "ssl.config"
    ssl_file.write_text(f"server_key: {_text(pki['server_key'])}\n"
                        f"server_cert: {_text(pki['server_cert'])}\n"
                        f"custom_ca: {_text(pki['ca'])}\nclient_verify: true\n")
    assert load_ssl_config(str(ssl_file)).client_verify
    with running_server(model_name="tiny", model_base_path=str(tiny_base),
                        ssl_config_file=str(ssl_file)) as server:
        target = f"127.0.0.1:{server.grpc_port}"
        trusted = grpc.ssl_channel_credentials(root_certificates=pki["ca"],
                                               private_key=pki["client_key"],
                                               certificate_chain=pki["client_cert"])
        with grpc.secure_channel(target, trusted) as channel:
            assert _predict(channel, [1.0, 2.0]) == [3.0, 5.0]
        # No client certificate, or no TLS at all: refused at the handshake.
        anonymous = grpc.ssl_channel_credentials(root_certificates=pki["ca"])
        for channel in (grpc.secure_channel(target, anonymous), grpc.insecure_channel(target)):
            with channel, pytest.raises(grpc.RpcError) as error:
                _predict(channel, [1.0, 2.0])
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        # REST stays plain HTTP, as in TF Serving.
        assert http(server, "GET", "/v1/models/tiny")[0] == 200


def test_bad_ssl_config_files_are_one_line_errors(tmp_path, pki):
    cases = {
        "server_cert: \"x\"\n": "server_key and server_cert (PEM text) are required",
        f"server_key: {_text(pki['server_key'])}\nserver_cert: {_text(pki['server_cert'])}\n"
        "client_verify: true\n": "client_verify needs custom_ca",
        "server_key: \"k\"\nserver_cert: \"c\"\nverify: true\n": "unknown field 'verify'",
    }
    for text, message in cases.items():
        path = tmp_path / "ssl.config"
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(message)) as error:
            options_from_flags(["--model_base_path", str(tmp_path),
                                "--ssl_config_file", str(path)])
        assert str(error.value).startswith(f"invalid SSL config file {path}: ")
        assert "\n" not in str(error.value)


# --- UNIX socket ---------------------------------------------------------------------------

def test_grpc_on_a_unix_socket(tmp_path, tiny_base):
    socket_path = str(tmp_path / "tfs.sock")
    with running_server(model_name="tiny", model_base_path=str(tiny_base),
                        grpc_socket_path=socket_path) as server:
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            assert _predict(channel, [0.5, 1.0]) == [2.0, 3.0]
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            assert _predict(channel, [0.0, 0.0]) == [1.0, 1.0]
    with pytest.raises(ConfigError, match=r"^give a gRPC --port or --grpc_socket_path$"):
        options_from_flags(["--model_base_path", str(tiny_base), "--port", "-1"])


# --- request logging -----------------------------------------------------------------------

def _logging_config(base, prefix: str, rate: float, collector: str = "tfrecord") -> str:
    return (f'model_config_list {{ config {{ name: "tiny" base_path: "{base}" '
            f'model_platform: "tensorflow" logging_config {{ log_collector_config {{ '
            f'type: "{collector}" filename_prefix: "{prefix}" }} sampling_config {{ '
            f'sampling_rate: {rate} }} }} }} }}')


def _logs(prefix: str) -> list[prediction_log_pb2.PredictionLog]:
    files = glob.glob(f"{prefix}-tiny-*.tfrecord")
    assert len(files) == 1, files
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files)]


def test_request_logs_hold_successful_calls_and_replay_as_warmup(tmp_path, tiny_base):
    prefix = str(tmp_path / "logs" / "requests")
    config = parse_model_server_config(_logging_config(tiny_base, prefix, 1.0))
    with running_server(model_config=config) as server:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            stub.Predict(_predict_request([1.0, 2.0]), TIMEOUT)
            classify = classification_pb2.ClassificationRequest()
            classify.model_spec.name, classify.model_spec.signature_name = "tiny", "classify"
            classify.input.example_list.examples.add().features.feature[
                "x"].float_list.value.append(0.25)
            stub.Classify(classify, TIMEOUT)
            with pytest.raises(grpc.RpcError):  # failed calls are not logged
                stub.Predict(predict_pb2.PredictRequest(model_spec=classify.model_spec),
                             TIMEOUT)
        status, _ = http(server, "POST", "/v1/models/tiny:predict",
                         {"instances": [[3.0, 4.0]]})
        assert status == 200
    logs = _logs(prefix)
    assert [log.WhichOneof("log_type") for log in logs] == [
        "predict_log", "classify_log", "predict_log"]
    for log in logs:
        meta = log.log_metadata
        assert (meta.model_spec.name, meta.model_spec.version.value) == ("tiny", 1)
        assert meta.sampling_config.sampling_rate == 1.0
        assert list(meta.saved_model_tags) == ["serve"]
    grpc_call, _, rest_call = logs
    assert tf.make_ndarray(grpc_call.predict_log.response.outputs["y"]).tolist() == [[3.0, 5.0]]
    assert tf.make_ndarray(rest_call.predict_log.request.inputs["x"]).tolist() == [[3.0, 4.0]]
    assert rest_call.predict_log.response.model_spec.signature_name == "serving_default"
    assert logs[1].classify_log.response.result.classifications[0].classes[1].score == 0.25

    # Logged traffic is a valid warm-up file for the next version.
    version = copy_version(str(tiny_base / "1"), str(tmp_path / "next"), 2)
    os.makedirs(os.path.join(version, "assets.extra"))
    with open(os.path.join(version, WARMUP_FILE), "wb") as f:
        f.write(open(glob.glob(f"{prefix}-tiny-*.tfrecord")[0], "rb").read())
    assert replay_warmup(load_servable("tiny", 2, version), WARMUP_HANDLERS) == 3


def test_sampling_rate_zero_logs_nothing_and_bad_logging_configs(tmp_path, tiny_base):
    prefix = str(tmp_path / "quiet")
    config = parse_model_server_config(_logging_config(tiny_base, prefix, 0.0))
    with running_server(model_config=config) as server:
        assert http(server, "POST", "/v1/models/tiny:predict",
                    {"instances": [[1.0, 1.0]]})[0] == 200
    assert _logs(prefix) == []
    with pytest.raises(ConfigError, match=r"^model 'tiny': Cannot find LogCollector::Factory "
                                          r"for type: bigquery \(Shipyard's server provides: "
                                          r"tfrecord\)$"):
        parse_model_server_config(_logging_config(tiny_base, prefix, 1.0, "bigquery"))
    with pytest.raises(ConfigError, match=r"^model 'tiny': sampling_rate must be in \[0, 1\], "
                                          r"got 2$"):
        parse_model_server_config(_logging_config(tiny_base, prefix, 2.0))

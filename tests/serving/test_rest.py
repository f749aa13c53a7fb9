"""REST API conformance: TF Serving's half_plus_two models and a tiny self-built model."""
from __future__ import annotations

import base64
import json
import math
import os

import pytest

from tests.serving.helpers import http, record_threads, running_server, save_tiny_model


@pytest.fixture(scope="module")
def half_plus_two(tfserving):
    with running_server(model_name="default", model_base_path=os.path.join(
            tfserving, "saved_model_half_plus_two_cpu")) as s:
        yield s


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    save_tiny_model(str(base / "1"), k=2.0)
    with running_server(model_name="tiny", model_base_path=str(base)) as s:
        yield s


# --- TF Serving's own model ----------------------------------------------------------------

def test_status_matches_tf_serving(half_plus_two):
    assert http(half_plus_two, "GET", "/v1/models/default") == (200, {"model_version_status": [
        {"version": "123", "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}}]})
    assert http(half_plus_two, "GET", "/v1/models/default/versions/123")[0] == 200


def test_metadata_equals_tf_serving_file(half_plus_two, tfserving):
    with open(os.path.join(tfserving, "half_plus_two_model_metadata.json")) as f:
        expected = json.load(f)
    assert http(half_plus_two, "GET", "/v1/models/default/metadata") == (200, expected)


def test_predict_row_and_columnar(half_plus_two):
    assert http(half_plus_two, "POST", "/v1/models/default:predict",
                {"instances": [1.0, 2.0, 5.0]}) == (200, {"predictions": [2.5, 3.0, 4.5]})
    assert http(half_plus_two, "POST", "/v1/models/default/versions/123:predict",
                {"inputs": {"x": [[1.0], [2.0]]}}) == (200, {"outputs": [[2.5], [3.0]]})
    assert http(half_plus_two, "POST", "/v1/models/default:predict",
                {"signature_name": "serving_default", "inputs": [[1.0]]}) == \
        (200, {"outputs": [[2.5]]})


def test_bodies_only_the_standard_parser_reads(half_plus_two):
    # The fast parser refuses NaN / Infinity and integers past 64 bits; RapidJSON, as TF
    # Serving parses, reads them, and so does the fallback.
    status, answer = http(half_plus_two, "POST", "/v1/models/default:predict",
                          raw=b'{"instances": [NaN, Infinity, 1.0]}')
    assert status == 200
    nan, inf, value = answer["predictions"]
    assert math.isnan(nan) and inf == math.inf and value == 2.5
    assert http(half_plus_two, "POST", "/v1/models/default:predict",
                raw=b'{"instances": [1.0], "signature_name": 123456789012345678901234}') == \
        (400, {"error": 'JSON Value: {"instances":[1.0],"signature_name":'
                        '1.2345678901234569e+23} not formatted correctly. \'signature_name\' '
                        'key must be a string value.'})


def test_float32_shortest_round_trip(half_plus_two):
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{half_plus_two.rest_port}/v1/models/default:predict",
        data=b'{"instances": [0.1, 2.0]}', method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        status, text = r.status, r.read().decode()
    assert status == 200
    assert "2.05" in text and "2.049999" not in text and "3.0" in text


def test_classify_and_regress(half_plus_two):
    assert http(half_plus_two, "POST", "/v1/models/default:classify",
                {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": 2.0}]}
                ) == (200, {"results": [[["", 2.5]], [["", 3.0]]]})
    assert http(half_plus_two, "POST", "/v1/models/default:regress",
                {"signature_name": "regress_x_to_y2", "examples": [{"x": 1.0}]}
                ) == (200, {"results": [3.5]})
    # A context's features reach every example.
    assert http(half_plus_two, "POST", "/v1/models/default:regress",
                {"signature_name": "regress_x_to_y", "context": {"x": 4.0},
                 "examples": [{}, {"x": 2.0}]}) == (200, {"results": [4.0, 3.0]})


@pytest.mark.parametrize("method, path, body, status, message", [
    ("GET", "/v1/models", None, 400, "Missing model name in request."),
    ("GET", "/v1/models/unknown", None, 404, "Could not find any versions of model unknown"),
    ("GET", "/v1/models/default/versions/9", None, 404,
     "Could not find version 9 of model default"),
    ("DELETE", "/v1/models/default", None, 400, "Malformed request: DELETE /v1/models/default"),
    ("GET", "/v2/nothing", None, 400, "Malformed request: GET /v2/nothing"),
    ("POST", "/v1/models/default:explain", {}, 400,
     "Malformed request: POST /v1/models/default:explain"),
    ("POST", "/v1/models/unknown:predict", {"instances": [1.0]}, 404,
     "Servable not found for request: Latest(unknown)"),
    ("POST", "/v1/models/default/versions/7:predict", {"instances": [1.0]}, 404,
     "Servable not found for request: Specific(default, 7)"),
    ("POST", "/v1/models/default/labels/canary:predict", {"instances": [1.0]}, 400,
     "Unrecognized servable version label: canary"),
    ("POST", "/v1/models/default:predict", {"instances": [1.0], "inputs": [1.0]}, 400,
     "JSON Value: {\"instances\":[1.0],\"inputs\":[1.0]} Not formatted correctly expecting "
     "only one of 'inputs' or 'instances' keys to exist "),
    ("POST", "/v1/models/default:predict", {"instance": [1.0]}, 400,
     "Missing 'inputs' or 'instances' key"),
    ("POST", "/v1/models/default:predict", {"instances": []}, 400,
     "JSON Value: {\"instances\":[]} No values in 'instances' array"),
    ("POST", "/v1/models/default:predict", {"instances": [1.0], "signature_name": "nope"}, 400,
     "Serving signature name: \"nope\" not found in signature def"),
    ("POST", "/v1/models/default:predict", {"instances": [1.0], "signature_name": 5}, 400,
     "JSON Value: {\"instances\":[1.0],\"signature_name\":5} not formatted correctly. "
     "'signature_name' key must be a string value."),
    ("POST", "/v1/models/default:predict", {"instances": ["a"]}, 400,
     "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: JSON Value: "
     "\"a\" Type: String is not of expected type: float"),
    ("POST", "/v1/models/default:predict", {"instances": [[1.0], [1.0, 2.0]]}, 400,
     "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting "
     "tensor size: 1 but got: 2"),
    ("POST", "/v1/models/default:classify", {"examples": [{"x": 1.0}]}, 400,
     "No classification inputs found in SignatureDef: serving_default"),
    ("POST", "/v1/models/default:classify", {"signature_name": "regress_x_to_y",
                                             "examples": [{"x": 1.0}]}, 400,
     "Expected classification signature method_name to be tensorflow/serving/classify. Was: "
     "tensorflow/serving/regress"),
    ("POST", "/v1/models/default:regress", {"signature_name": "regress_x_to_y"}, 400,
     "JSON Value: {\"signature_name\":\"regress_x_to_y\"} When method is regress, key "
     "'examples' is expected and was not found"),
])
def test_errors_like_tf_serving(half_plus_two, method, path, body, status, message):
    assert http(half_plus_two, method, path, body) == (status, {"error": message})


def test_malformed_bodies_are_4xx(half_plus_two):
    path = "/v1/models/default:predict"
    assert http(half_plus_two, "POST", path, raw=b"") == \
        (400, {"error": "JSON Parse error: The document is empty"})
    # RapidJSON's messages, as TF Serving reports them.
    for raw, message in ((b"instances = [1, 2]", "Invalid value. at offset: 0"),
                         (b"{bad", "Missing a name for object member. at offset: 1"),
                         (b'{"instances": [1.0 2.0]}',
                          "Missing a comma or ']' after an array element. at offset: 19"),
                         (b'{"instances": [1.0] "x": 1}',
                          "Missing a comma or '}' after an object member. at offset: 20"),
                         (b'{"instances": [1.0]} {}',
                          "The document root must not be followed by other values. at offset: "
                          "21")):
        assert http(half_plus_two, "POST", path, raw=raw) == \
            (400, {"error": "JSON Parse error: " + message})
    assert http(half_plus_two, "POST", path, raw=b"[1, 2]") == \
        (400, {"error": "JSON Value: [1,2] Is not object"})
    status, body = http(half_plus_two, "POST", path, raw=b"\xff\xfe")
    assert status == 400 and body["error"].startswith("JSON Parse error:")
    # Deep nesting is refused before Python's recursive parser runs (it used to answer 500).
    deep = b'{"instances": ' + b"[" * 5000 + b"1.0" + b"]" * 5000 + b"}"
    assert http(half_plus_two, "POST", path, raw=deep) == \
        (400, {"error": "JSON Parse error: Nesting is deeper than 256 levels."})
    # Brackets inside strings do not count, and 256 levels are still parsed.
    status, body = http(half_plus_two, "POST", path,
                        raw=b'{"signature_name": "' + b"[" * 5000 + b'", "instances": [1.0]}')
    assert status == 400 and body["error"].startswith("Serving signature name: ")
    at_limit = b'{"instances": ' + b"[" * 255 + b"1.0" + b"]" * 255 + b"}"
    assert http(half_plus_two, "POST", path, raw=at_limit) == (400, {"error": (
        "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: Tensor of "
        "rank 254 exceeds the supported rank of 32")})
    # Model names are looked up, never joined to a path.
    assert http(half_plus_two, "GET", "/v1/models/..%2F..%2Fetc")[0] == 404


def test_tf2_export_classify_regress(tfserving):
    with running_server(model_name="hp2", model_base_path=os.path.join(
            tfserving, "saved_model_half_plus_two_tf2_cpu")) as s:
        assert http(s, "POST", "/v1/models/hp2:predict", {"instances": [1.0]}) == \
            (200, {"predictions": [2.5]})
        assert http(s, "POST", "/v1/models/hp2:classify",
                    {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}) == \
            (200, {"results": [[["", 3.0]]]})
        assert http(s, "POST", "/v1/models/hp2:regress",
                    {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}) == \
            (200, {"results": [3.0]})
        status, body = http(s, "GET", "/v1/models/hp2/metadata")
        assert status == 200
        assert "__saved_model_init_op" in body["metadata"]["signature_def"]["signature_def"]


# --- a model built here ---------------------------------------------------------------

def test_tiny_row_format_several_outputs(tiny):
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"instances": [[1.0, 2.0], [0.5, 0.25]]}) == (200, {"predictions": [
                    {"total": 3.0, "y": [3.0, 5.0]}, {"total": 0.75, "y": [2.0, 1.5]}]})
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"inputs": {"x": [[1.0, 2.0]]}}) == (200, {"outputs": {"total": [3.0],
                                                                       "y": [[3.0, 5.0]]}})


def test_lone_quick_requests_run_on_the_event_loop(tiny, monkeypatch):
    """A REST request alone on the server runs on the loop thread once the same URL with the
    same body length is known to be quick (serving.api.inline), else on the pool; the answers
    are the same either way."""
    from serving.api import inline
    from serving.api.rest import RestApi

    threads = record_threads(monkeypatch, RestApi, "handle")
    monkeypatch.setattr(inline, "INLINE_CALL_SECONDS", 60.0)  # whatever this machine's speed
    body = {"signature_name": "add", "inputs": {"a": [1, 2, 3, 4, 5], "b": [5, 4, 3, 2, 1]}}
    for _ in range(3):
        assert http(tiny, "POST", "/v1/models/tiny:predict", body) == \
            (200, {"outputs": [6, 6, 6, 6, 6]})
    # The first is unknown, so pooled; a 60 s limit is cut to a tenth of the 30 s timeout.
    assert threads[0].startswith("rest_") and threads[1:] == ["rest", "rest"]
    monkeypatch.setattr(inline, "INLINE_CALL_SECONDS", 0.0)
    threads.clear()
    for _ in range(2):
        assert http(tiny, "POST", "/v1/models/tiny:predict", body) == \
            (200, {"outputs": [6, 6, 6, 6, 6]})
    assert len(threads) == 2 and all(name.startswith("rest_") for name in threads)


def test_tiny_b64_in_and_out(tiny):
    raw = b"\x00\xffhi"
    encoded = base64.b64encode(raw).decode()
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"signature_name": "echo", "instances": [{"b64": encoded}, "abc"]}) == \
        (200, {"predictions": [{"echo_bytes": {"b64": encoded}, "length": 4},
                               {"echo_bytes": {"b64": base64.b64encode(b"abc").decode()},
                                "length": 3}]})
    status, body = http(tiny, "POST", "/v1/models/tiny:predict",
                        {"signature_name": "echo", "instances": [{"b64": "!!notbase64"}]})
    assert status == 400 and "Unable to base64 decode" in body["error"]


def test_tiny_multiple_inputs_and_ints(tiny):
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"signature_name": "add", "instances": [{"a": 1, "b": 2}, {"a": 5, "b": -7}]}) \
        == (200, {"predictions": [3, -2]})
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"signature_name": "add", "inputs": {"a": [1, 2], "b": [3, 4]}}) == \
        (200, {"outputs": [4, 6]})
    status, body = http(tiny, "POST", "/v1/models/tiny:predict",
                        {"signature_name": "add", "instances": [{"a": 1.5, "b": 2}]})
    assert status == 400 and "Type: Number is not of expected type: int32" in body["error"]
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"signature_name": "add", "inputs": {"a": [1]}}) == \
        (400, {"error": "Missing named input: b in 'inputs' object."})
    assert http(tiny, "POST", "/v1/models/tiny:predict",
                {"signature_name": "add", "instances": [1, 2]}) == \
        (400, {"error": "instances is a plain list, but expecting list of objects as multiple "
                        "input tensors required as per tensorinfo_map"})


def test_tiny_wrong_shape_is_400_not_crash(tiny):
    # Like TF Serving, shapes are left to TensorFlow: it refuses adding [2] to [3].
    status, body = http(tiny, "POST", "/v1/models/tiny:predict",
                        {"signature_name": "add", "inputs": {"a": [1, 2], "b": [1, 2, 3]}})
    assert status == 400 and "Incompatible shapes" in body["error"]
    # The server still answers afterwards.
    assert http(tiny, "POST", "/v1/models/tiny:predict", {"instances": [[0.0, 0.0]]})[0] == 200


def test_tiny_classify_regress(tiny):
    assert http(tiny, "POST", "/v1/models/tiny:classify",
                {"signature_name": "classify", "examples": [{"x": 0.25}]}) == \
        (200, {"results": [[["low", 0.75], ["high", 0.25]]]})
    # A JSON integer becomes an int64_list, which the model's float feature refuses.
    status, body = http(tiny, "POST", "/v1/models/tiny:regress",
                        {"signature_name": "regress", "examples": [{"x": 2}]})
    assert status == 400 and "x" in body["error"]
    assert http(tiny, "POST", "/v1/models/tiny:regress",
                {"signature_name": "regress", "examples": [{"x": [1.5, 2]}]}) == \
        (400, {"error": "Unexpected element type in feature: x expecting type: float"})
    assert http(tiny, "POST", "/v1/models/tiny:regress",
                {"signature_name": "regress", "examples": [{"x": 1.5}, {"x": [2.0]}]}) == \
        (200, {"results": [3.0, 4.0]})


def test_tiny_metadata_lists_signatures(tiny):
    status, body = http(tiny, "GET", "/v1/models/tiny/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "tiny", "signature_name": "", "version": "1"}
    sigs = body["metadata"]["signature_def"]["signature_def"]
    assert set(sigs) >= {"serving_default", "echo", "add", "classify", "regress",
                         "__saved_model_init_op"}
    assert sigs["add"]["inputs"]["a"]["dtype"] == "DT_INT32"
    assert sigs["serving_default"]["inputs"]["x"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""}, {"size": "2", "name": ""}]


def test_tiny_keras_model(tmp_path):
    import numpy as np
    import tf_keras

    inputs = tf_keras.Input(shape=(3,), name="features")
    outputs = tf_keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros",
                                    name="out")(inputs)
    model = tf_keras.Model(inputs, outputs)
    model.save(os.path.join(tmp_path, "7"), save_format="tf")
    with running_server(model_name="keras", model_base_path=str(tmp_path)) as s:
        status, body = http(s, "POST", "/v1/models/keras:predict",
                            {"instances": [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]})
        assert status == 200
        np.testing.assert_allclose(np.array(body["predictions"]), [[6.0], [1.5]])

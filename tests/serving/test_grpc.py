"""gRPC API through the official tensorflow-serving-api stubs."""
from __future__ import annotations

import os

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from tests.serving.helpers import record_threads, running_server, save_tiny_model

TIMEOUT = 30


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny_grpc")
    save_tiny_model(str(base / "3"), k=2.0)
    with running_server(model_name="tiny", model_base_path=str(base)) as s:
        channel = grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}")
        yield s, prediction_service_pb2_grpc.PredictionServiceStub(channel), \
            model_service_pb2_grpc.ModelServiceStub(channel)
        channel.close()


def _example(x: float) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x]))}))


def test_predict_typed_fields(tiny):
    _, stub, _ = tiny
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[1.0, 2.0]], dtype=tf.float32))
    response = stub.Predict(request, timeout=TIMEOUT)
    assert response.model_spec.name == "tiny"
    assert response.model_spec.version.value == 3
    assert response.model_spec.signature_name == "serving_default"
    assert list(response.outputs["y"].float_val) == [3.0, 5.0]
    assert response.outputs["y"].tensor_content == b""
    assert [d.size for d in response.outputs["y"].tensor_shape.dim] == [1, 2]
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["total"]), [3.0])
    request.output_filter.append("total")
    assert set(stub.Predict(request, timeout=TIMEOUT).outputs) == {"total"}


def test_lone_short_predicts_run_on_the_event_loop(tiny, monkeypatch):
    """An unbatched Predict alone on the server skips the pool hand-over once its signature is
    known to be quick (serving.api.inline); with that limit at 0 every call goes
    to the pool. Either way the answers are the same."""
    from serving.api import inline
    from serving.core.loader import Servable

    threads = record_threads(monkeypatch, Servable, "call")
    # A limit no call reaches, so the test does not depend on this machine's speed.
    monkeypatch.setattr(inline, "INLINE_CALL_SECONDS", 60.0)
    _, stub, _ = tiny
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = "add"
    # Shapes never sent before: the first call's duration is unknown, so it goes to the pool.
    request.inputs["a"].CopyFrom(tf.make_tensor_proto(np.arange(7, dtype=np.int32)))
    request.inputs["b"].CopyFrom(tf.make_tensor_proto(np.ones(7, np.int32)))
    for _ in range(3):
        outputs = stub.Predict(request, timeout=TIMEOUT).outputs
        assert list(outputs["c"].int_val) == list(range(1, 8))
    assert threads[0].startswith("grpc_") and threads[1:] == ["grpc-loop", "grpc-loop"]
    monkeypatch.setattr(inline, "INLINE_CALL_SECONDS", 0.0)
    threads.clear()
    for _ in range(2):
        assert list(stub.Predict(request, timeout=TIMEOUT).outputs["c"].int_val) == \
            list(range(1, 8))
    assert all(name.startswith("grpc_") for name in threads) and len(threads) == 2


def test_predict_strings_and_ints(tiny):
    _, stub, _ = tiny
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = "echo"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto([b"ab", b"\x00\x01\x02"]))
    response = stub.Predict(request, timeout=TIMEOUT)
    assert list(response.outputs["echo_bytes"].string_val) == [b"ab", b"\x00\x01\x02"]
    assert list(response.outputs["length"].int_val) == [2, 3]


@pytest.mark.parametrize("mutate, code, message", [
    (lambda r: setattr(r.model_spec, "name", "nope"), grpc.StatusCode.NOT_FOUND,
     "Servable not found for request: Latest(nope)"),
    (lambda r: r.model_spec.version.__setattr__("value", 9), grpc.StatusCode.NOT_FOUND,
     "Servable not found for request: Specific(tiny, 9)"),
    (lambda r: setattr(r.model_spec, "signature_name", "nope"),
     grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "nope" not found.'),
    (lambda r: r.inputs["extra"].CopyFrom(tf.make_tensor_proto([1.0])),
     grpc.StatusCode.INVALID_ARGUMENT,
     "input size does not match signature: 2!=1 len({extra,x}) != len({x}). "
     "Sent extra: {extra}."),
    (lambda r: r.inputs["x"].CopyFrom(tf.make_tensor_proto([[b"a", b"b"]])),
     grpc.StatusCode.INVALID_ARGUMENT, "Expects arg[0] to be float32 but string is provided"),
    (lambda r: r.output_filter.append("zzz"), grpc.StatusCode.INVALID_ARGUMENT,
     "output tensor alias not found in signature: zzz Outputs expected to be in the set "
     "{total,y}."),
])
def test_predict_errors(tiny, mutate, code, message):
    _, stub, _ = tiny
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[1.0, 2.0]], dtype=tf.float32))
    mutate(request)
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request, timeout=TIMEOUT)
    assert info.value.code() == code
    assert info.value.details() == message


def test_classify_regress_multi_inference(tiny):
    _, stub, _ = tiny
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = "classify"
    request.input.example_list.examples.extend([_example(0.25), _example(1.0)])
    result = stub.Classify(request, timeout=TIMEOUT).result
    assert [[(c.label, c.score) for c in r.classes] for r in result.classifications] == [
        [("low", 0.75), ("high", 0.25)], [("low", 0.0), ("high", 1.0)]]

    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = "regress"
    request.input.example_list_with_context.context.CopyFrom(_example(1.5))
    request.input.example_list_with_context.examples.add()
    request.input.example_list_with_context.examples.append(_example(4.0))
    response = stub.Regress(request, timeout=TIMEOUT)
    assert [r.value for r in response.result.regressions] == [3.0, 8.0]
    assert response.model_spec.version.value == 3

    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("classify", "tensorflow/serving/classify"),
                              ("regress", "tensorflow/serving/regress")):
        task = request.tasks.add()
        task.model_spec.name = "tiny"
        task.model_spec.signature_name = signature
        task.method_name = method
    request.input.example_list.examples.append(_example(0.5))
    results = stub.MultiInference(request, timeout=TIMEOUT).results
    assert [(c.label, c.score) for c in results[0].classification_result.classifications[0]
            .classes] == [("low", 0.5), ("high", 0.5)]
    assert results[1].regression_result.regressions[0].value == 1.0
    assert results[1].model_spec.signature_name == "regress"

    empty = regression_pb2.RegressionRequest()
    empty.model_spec.name = "tiny"
    empty.model_spec.signature_name = "regress"
    with pytest.raises(grpc.RpcError) as info:
        stub.Regress(empty, timeout=TIMEOUT)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                         "Input is empty.")


def test_metadata_and_status(tiny):
    _, stub, models = tiny
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "tiny"
    response = stub.GetModelMetadata(request, timeout=TIMEOUT)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    assert signature_map.signature_def["add"].inputs["b"].dtype == tf.int32.as_datatype_enum
    assert response.model_spec.version.value == 3

    status = models.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(
        model_spec={"name": "tiny"}), timeout=TIMEOUT)
    assert [(s.version, s.state, s.status.error_code) for s in status.model_version_status] == [
        (3, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)]
    with pytest.raises(grpc.RpcError) as info:
        models.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(
            model_spec={"name": "other"}), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_half_plus_two_grpc_like_tf_serving_test(tfserving):
    """TF Serving's testPredict: a [1] tensor fed to the [-1, 1] input of the TF1 export."""
    path = os.path.join(tfserving, "saved_model_half_plus_two_cpu")
    with running_server(model_name="default", model_base_path=path) as s, \
            grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "default"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto([2.0], shape=[1]))
        response = stub.Predict(request, timeout=TIMEOUT)
        assert list(response.outputs["y"].float_val) == [3.0]
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = "default"
        request.model_spec.signature_name = "classify_x_to_y"
        request.input.example_list.examples.append(_example(2.0))
        result = stub.Classify(request, timeout=TIMEOUT).result
        assert result.classifications[0].classes[0].score == 3.0

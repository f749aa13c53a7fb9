"""The APIs' request logic, shared by REST, gRPC and warm-up: predict, classify, regress,
multi-inference and metadata, each on one servable that the caller has looked up."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from serving.api import tensors
from serving.core.errors import invalid
from serving.core.loader import DEFAULT_SIGNATURE, Servable

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


def fill_model_spec(spec: model_pb2.ModelSpec, servable: Servable, signature_name: str) -> None:
    spec.name = servable.name
    spec.version.value = servable.version
    spec.signature_name = signature_name or DEFAULT_SIGNATURE


def check_output_filter(signature: meta_graph_pb2.SignatureDef, output_filter: Iterable[str]
                        ) -> list[str]:
    names = list(output_filter)
    seen = set()
    for alias in names:
        if alias not in signature.outputs:
            raise invalid(f"output tensor alias not found in signature: {alias} Outputs "
                          f"expected to be in the set {{{','.join(sorted(signature.outputs))}}}.")
        if alias in seen:
            raise invalid(f"duplicate output tensor alias: {alias}")
        seen.add(alias)
    return names


def predict_arrays(servable: Servable, signature_name: str, inputs: Mapping[str, np.ndarray],
                   output_filter: Iterable[str] = ()) -> dict[str, np.ndarray]:
    signature = servable.signature(signature_name)
    names = check_output_filter(signature, output_filter)
    outputs = servable.run(signature_name or DEFAULT_SIGNATURE, inputs)
    return {k: outputs[k] for k in names} if names else outputs


def predict_on(servable: Servable, request: predict_pb2.PredictRequest
               ) -> predict_pb2.PredictResponse:
    inputs = predict_inputs(servable, request)
    outputs = servable.run(request.model_spec.signature_name or DEFAULT_SIGNATURE, inputs)
    return predict_response(servable, request, outputs)


def predict_inputs(servable: Servable, request: predict_pb2.PredictRequest
                   ) -> dict[str, np.ndarray]:
    """A Predict request's inputs as arrays, once its signature and output filter are known
    good: predict_on's first half, before the model call (asynchronous servers await that)."""
    inputs = {k: tensors.proto_to_array(v) for k, v in request.inputs.items()}
    check_output_filter(servable.signature(request.model_spec.signature_name),
                        request.output_filter)
    return inputs


def predict_response(servable: Servable, request: predict_pb2.PredictRequest,
                     outputs: Mapping[str, np.ndarray]) -> predict_pb2.PredictResponse:
    """predict_on's second half: the response to `request` holding the model's `outputs`."""
    response = predict_pb2.PredictResponse()
    fill_model_spec(response.model_spec, servable, request.model_spec.signature_name)
    for name in request.output_filter or outputs:
        tensors.array_to_proto(outputs[name], response.outputs[name])
    return response


def predict_protos(servable: Servable, signature_name: str, inputs: Mapping[str, np.ndarray],
                   outputs: Mapping[str, np.ndarray]
                   ) -> tuple[predict_pb2.PredictRequest, predict_pb2.PredictResponse]:
    """A REST predict call as the gRPC request and response it stands for (request logs)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = servable.name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        tensors.array_to_proto(value, request.inputs[name])
    response = predict_pb2.PredictResponse()
    fill_model_spec(response.model_spec, servable, signature_name)
    for name, value in outputs.items():
        tensors.array_to_proto(value, response.outputs[name])
    return request, response


def serialized_examples(request_input: input_pb2.Input) -> list[bytes]:
    """tf.Examples of an Input; with a context, the context's features are merged into each."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString() for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        lwc = request_input.example_list_with_context
        context = lwc.context.SerializeToString()
        # Concatenated serialized protos parse as a merge; the example's own features win.
        examples = [context + e.SerializeToString() for e in lwc.examples]
    else:
        examples = []
    if not examples:
        raise invalid("Input is empty.")
    return examples


def _example_signature(servable: Servable, signature_name: str, method: str
                       ) -> tuple[str, meta_graph_pb2.SignatureDef]:
    key = signature_name or DEFAULT_SIGNATURE
    if key not in servable.signature_defs:
        raise invalid(f"No signature was found with the name: {key}")
    signature = servable.signature(key)
    # The method-name check is off by default in TF Serving, so TF2 'predict' signatures work.
    if signature.method_name not in (method, "tensorflow/serving/predict"):
        kind = "classification" if method == CLASSIFY_METHOD else "regression"
        raise invalid(f"Expected {kind} signature method_name to be {method}. "
                      f"Was: {signature.method_name}")
    if len(signature.inputs) != 1:
        raise invalid("Expected one input Tensor.")
    if "inputs" not in signature.inputs:
        kind = "classification" if method == CLASSIFY_METHOD else "regression"
        raise invalid(f"No {kind} inputs found in SignatureDef: {key}")
    return key, signature


def _run_examples(servable: Servable, key: str, signature: meta_graph_pb2.SignatureDef,
                  examples: list[bytes]) -> dict[str, np.ndarray]:
    return servable.run(key, {"inputs": np.array(examples, dtype=object)})


def classify_on(servable: Servable, request: classification_pb2.ClassificationRequest
                ) -> classification_pb2.ClassificationResponse:
    key, signature = _example_signature(servable, request.model_spec.signature_name,
                                        CLASSIFY_METHOD)
    if "classes" not in signature.outputs and "scores" not in signature.outputs:
        raise invalid('Expected classification signature outputs to contain at least one of '
                      '"classes" or "scores".')
    examples = serialized_examples(request.input)
    outputs = _run_examples(servable, key, signature, examples)
    classes, scores = outputs.get("classes"), outputs.get("scores")
    num = len(examples)
    for name, value, kind in (("classes", classes, "O"), ("scores", scores, "f")):
        if value is None:
            continue
        if value.ndim != 2:
            raise invalid(f"Expected Tensor shape: [batch_size num_classes] but got "
                          f"{list(value.shape)}")
        if value.dtype.kind != kind:
            want = "DT_STRING" if kind == "O" else "DT_FLOAT"
            raise invalid(f"Expected {name} Tensor of {want}. Got: {value.dtype}")
        if value.shape[0] != num:
            raise invalid(f"Expected {name} output batch size of {num}. Got: {value.shape[0]}")
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid("Tensors class and score should match in dim_size(1). Got "
                      f"{classes.shape[1]} vs. {scores.shape[1]}")
    width = (classes if classes is not None else scores).shape[1]
    response = classification_pb2.ClassificationResponse()
    fill_model_spec(response.model_spec, servable, key)
    for i in range(num):
        row = response.result.classifications.add()
        for j in range(width):
            item = row.classes.add()
            if classes is not None:
                item.label = classes[i, j].decode("utf-8", "replace") \
                    if isinstance(classes[i, j], bytes) else str(classes[i, j])
            if scores is not None:
                item.score = float(scores[i, j])
    return response


def regress_on(servable: Servable, request: regression_pb2.RegressionRequest
               ) -> regression_pb2.RegressionResponse:
    key, signature = _example_signature(servable, request.model_spec.signature_name,
                                        REGRESS_METHOD)
    if len(signature.outputs) != 1:
        raise invalid("Expected one output Tensor.")
    if "outputs" not in signature.outputs:
        raise invalid("No regression outputs found in SignatureDef.")
    examples = serialized_examples(request.input)
    values = _run_examples(servable, key, signature, examples)["outputs"]
    if not (values.ndim == 1 or values.ndim == 2 and values.shape[1] == 1):
        raise invalid("Expected output Tensor shape to be either [batch_size] or "
                      f"[batch_size, 1] but got {list(values.shape)}")
    if values.dtype.kind != "f":
        raise invalid(f"Expected output Tensor of DT_FLOAT.  Got: {values.dtype}")
    if values.shape[0] != len(examples):
        raise invalid(f"Input batch size did not match output batch size: {len(examples)} "
                      f"vs. {values.shape[0]}")
    response = regression_pb2.RegressionResponse()
    fill_model_spec(response.model_spec, servable, key)
    for value in values.reshape(-1):
        response.result.regressions.add(value=float(value))
    return response


def multi_inference_on(servable: Servable, request: inference_pb2.MultiInferenceRequest
                       ) -> inference_pb2.MultiInferenceResponse:
    if not request.tasks:
        raise invalid("Found no tasks in MultiInferenceRequest.")
    seen = set()
    response = inference_pb2.MultiInferenceResponse()
    for task in request.tasks:
        if task.model_spec.name != request.tasks[0].model_spec.name:
            raise invalid("All ModelSpecs in a MultiInferenceRequest must access the same "
                          "model name.")
        key = task.model_spec.signature_name or DEFAULT_SIGNATURE
        if key in seen:
            raise invalid(f"Duplicate evaluation of signature: {key}")
        seen.add(key)
        result = response.results.add()
        if task.method_name == CLASSIFY_METHOD:
            sub = classification_pb2.ClassificationRequest(input=request.input)
            sub.model_spec.signature_name = key
            answer = classify_on(servable, sub)
            result.classification_result.CopyFrom(answer.result)
        elif task.method_name == REGRESS_METHOD:
            sub = regression_pb2.RegressionRequest(input=request.input)
            sub.model_spec.signature_name = key
            answer = regress_on(servable, sub)
            result.regression_result.CopyFrom(answer.result)
        else:
            raise invalid(f"Unsupported signature method_name: {task.method_name}")
        result.model_spec.CopyFrom(answer.model_spec)
    return response


def metadata_on(servable: Servable, request: get_model_metadata_pb2.GetModelMetadataRequest
                ) -> get_model_metadata_pb2.GetModelMetadataResponse:
    fields = list(request.metadata_field)
    if not fields:
        raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
    for field in fields:
        if field != "signature_def":
            raise invalid(f"Metadata field {field} is not supported")
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
    response.metadata["signature_def"].Pack(signature_map)
    return response


def metadata_json(servable: Servable) -> str:
    """GET .../metadata as TF Serving writes it (proto field names, default values kept)."""
    import json

    from google.protobuf import json_format

    spec = model_pb2.ModelSpec(name=servable.name)
    spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
    options = dict(preserving_proto_field_name=True, including_default_value_fields=True)
    body = {"model_spec": json_format.MessageToDict(spec, **options),
            "metadata": {"signature_def": json_format.MessageToDict(signature_map, **options)}}
    return json.dumps(body, indent=1)


# How warm-up replays each kind of PredictionLog (serving.core.warmup.replay_warmup).
WARMUP_HANDLERS = {"predict_log": predict_on, "classify_log": classify_on,
                   "regress_log": regress_on, "multi_inference_log": multi_inference_on}

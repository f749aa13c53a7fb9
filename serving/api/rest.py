"""TF Serving's REST API (http_rest_api_handler.cc): one request in, one RestAnswer out.

serving/api/http_server.py puts it on the network."""
from __future__ import annotations

import json
import logging
import re
import urllib.parse
from typing import Any, NamedTuple

import numpy as np
import orjson
from google.protobuf import json_format
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import classification_pb2, model_pb2, regression_pb2

from serving.api import handlers, tensors
from serving.api.request_log import ServerRequestLogger
from serving.core.errors import ServingError, invalid
from serving.core.manager import ModelManager

log = logging.getLogger("serving.rest")

_PREDICT_RE = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE)
_STATUS_RE = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE)


def model_spec(name: str, version: str | None, label: str | None) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name)
    if version:
        try:
            spec.version.value = int(version)
        except ValueError:
            raise invalid(f"Failed to convert version: {version} to numeric.") from None
    if label:
        spec.version_label = label
    return spec


# Deepest JSON nesting a request may have. TensorFlow tensors have at most 254 dimensions, so
# real requests stay far below; a deeper body is refused before Python's recursive parser runs.
MAX_JSON_DEPTH = 256
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# Python's json messages → RapidJSON's (GetParseError_En), which TF Serving reports and its
# clients and tests match on.
_RAPIDJSON_MESSAGES = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Extra data": "The document root must not be followed by other values.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid control character at": "Invalid encoding in string.",
    "Invalid \\escape": "Invalid escape character in string.",
    "Invalid \\uXXXX escape": "Incorrect hex digit after \\u escape in string.",
}


def _blank_strings(data: bytes) -> bytes:
    """`data` with the insides of JSON strings blanked, so only structural brackets remain
    (offsets unchanged)."""
    return _JSON_STRING.sub(lambda m: b'"' + b" " * (len(m.group()) - 2) + b'"', data)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `data` nests arrays / objects deeper than `limit`."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # cannot be that deep: the common case costs two byte counts
    if b'"' in data:
        data = _blank_strings(data)
    brackets = np.frombuffer(data.translate(None, _NOT_BRACKETS), np.uint8)
    step = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return bool(np.cumsum(step).max() > limit)


def _rapidjson_message(text: str, error: json.JSONDecodeError) -> str:
    if error.msg == "Expecting ',' delimiter":
        # RapidJSON names the container that misses its comma.
        stack: list[int] = []
        for byte in _blank_strings(text[:error.pos].encode("utf-8")):
            if byte in b"[{":
                stack.append(byte)
            elif byte in b"]}" and stack:
                stack.pop()
        if stack and stack[-1] == ord("{"):
            return "Missing a comma or '}' after an object member."
        return "Missing a comma or ']' after an array element."
    return _RAPIDJSON_MESSAGES.get(error.msg, "Invalid value.")


def parse_json_body(body: bytes) -> dict:
    if not body.strip():
        raise invalid("JSON Parse error: The document is empty")
    if json_too_deep(body):
        raise invalid(f"JSON Parse error: Nesting is deeper than {MAX_JSON_DEPTH} levels.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid(f"JSON Parse error: Invalid encoding in string. at offset: {e.start}"
                      ) from None
    try:
        doc = orjson.loads(body)  # ~10× faster than json on a predict body of numbers
    except orjson.JSONDecodeError:
        # NaN / Infinity (TF Serving accepts them), integers past 64 bits, or a real error:
        # the standard parser decides, and its error names the RapidJSON message.
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise invalid(f"JSON Parse error: {_rapidjson_message(text, e)} at offset: "
                          f"{e.pos}") from None
    if not isinstance(doc, dict):
        raise invalid(f"JSON Value: {tensors.debug_json(doc)} Is not object")
    return doc


def _signature_name(doc: dict) -> str:
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid(f"JSON Value: {tensors.debug_json(doc)} not formatted correctly. "
                      "'signature_name' key must be a string value.")
    return name


# --- JSON examples -> tf.Example (classify / regress) ---------------------------------------

def _add_feature_value(value: Any, name: str, feature: feature_pb2.Feature) -> None:
    kind = feature.WhichOneof("kind")

    def want(expected: str) -> None:
        if kind is not None and kind != expected:
            raise invalid(f"Unexpected element type in feature: {name} expecting type: "
                          f"{kind.replace('_list', '')}")

    if isinstance(value, bool):
        want("int64_list")
        feature.int64_list.value.append(int(value))
    elif isinstance(value, int):
        want("int64_list")
        if not -(1 << 63) <= value < (1 << 63):
            raise invalid(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        feature.int64_list.value.append(value)
    elif isinstance(value, float):
        want("float_list")
        feature.float_list.value.append(value)
    elif isinstance(value, str):
        want("bytes_list")
        feature.bytes_list.value.append(value.encode("utf-8"))
    elif tensors.is_b64_object(value):
        want("bytes_list")
        feature.bytes_list.value.append(tensors.decode_b64(value))
    else:
        raise invalid(f"Feature: {name} has element with unexpected JSON type: "
                      f"{tensors.json_type(value)}")


def example_from_json(value: Any) -> example_pb2.Example:
    if not isinstance(value, dict):
        raise invalid(f"Example must be JSON object but got JSON {tensors.json_type(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = example.features.feature[name]
        for item in content if isinstance(content, list) else [content]:
            _add_feature_value(item, name, feature)
    return example


def fill_examples_request(doc: dict, request: Any, method: str) -> None:
    request.model_spec.signature_name = _signature_name(doc)
    if "context" in doc:
        target = request.input.example_list_with_context
        target.context.CopyFrom(example_from_json(doc["context"]))
    else:
        target = request.input.example_list
    if "examples" not in doc:
        raise invalid(f"JSON Value: {tensors.debug_json(doc)} When method is {method}, key "
                      "'examples' is expected and was not found")
    examples = doc["examples"]
    if not isinstance(examples, list):
        raise invalid(f"JSON Value: {tensors.debug_json(doc)} Expecting 'examples' value to be "
                      "an list/array")
    if not examples:
        raise invalid(f"JSON Value: {tensors.debug_json(doc)} 'examples' value is an empty "
                      "array")
    for item in examples:
        target.examples.add().CopyFrom(example_from_json(item))


def _float(x: float) -> str:
    return tensors._float_text(np.float32(x))


class RestAnswer(NamedTuple):
    status: int  # HTTP status
    body: str
    model: str  # the metrics labels: model name, API, and the version that answered ("": none)
    api: str
    version: str


class RestApi:
    """The request logic behind the HTTP handler: one RestAnswer per request."""

    def __init__(self, manager: ModelManager, request_logger: ServerRequestLogger):
        self.manager = manager
        self.request_logger = request_logger

    def handle(self, method: str, path: str, body: bytes) -> RestAnswer:
        path = urllib.parse.urlsplit(path).path
        model, api = "", "unknown"
        try:
            match = _PREDICT_RE.fullmatch(path) if method == "POST" else \
                _STATUS_RE.fullmatch(path) if method == "GET" else None
            if match is None:
                raise invalid(f"Malformed request: {method} {path}")
            name, version, label = (urllib.parse.unquote(g) if g else g for g in match.groups()[:3])
            model = name or ""
            spec = model_spec(model, version, label)
            answered_by = ""
            if method == "POST":
                api = match.group(4).lower()
                doc = parse_json_body(body)
                answer, answered_by = getattr(self, "_" + api)(spec, doc)
            elif match.group(4):
                api = "metadata"
                if not model:
                    raise invalid("Missing model name in request.")
                answer = handlers.metadata_json(self.manager.servable(spec))
            else:
                api = "status"
                answer = json_format.MessageToJson(self.manager.status(spec),
                                                   including_default_value_fields=True, indent=1)
            return RestAnswer(200, answer, model, api, answered_by)
        except ServingError as e:
            return RestAnswer(e.http_status, json.dumps({"error": e.message}), model, api, "")
        except Exception as e:  # noqa: BLE001 - a request never takes the server down
            log.exception("internal error on %s %s", method, path)
            return RestAnswer(500, json.dumps({"error": f"Internal error: {type(e).__name__}: "
                                                        f"{e}"}), model, api, "")

    # Each API: (JSON answer, the version label for metrics). Only predict has ever labelled
    # its REST metrics with the version; classify and regress keep "" so metrics stay as they were.

    def _predict(self, spec: model_pb2.ModelSpec, doc: dict) -> tuple[str, str]:
        signature_name = _signature_name(doc)
        servable = self.manager.servable(spec)
        key = signature_name or "serving_default"
        if key not in servable.signature_defs:
            raise invalid(f'Serving signature name: "{key}" not found in signature def')
        dtypes = servable.input_dtypes(key)
        if not dtypes:
            raise invalid(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
        if "instances" in doc and "inputs" in doc:
            raise invalid(f"JSON Value: {tensors.debug_json(doc)} Not formatted correctly "
                          "expecting only one of 'inputs' or 'instances' keys to exist ")
        if "instances" in doc:
            instances = doc["instances"]
            if not isinstance(instances, list):
                raise invalid(f"JSON Value: {tensors.debug_json(doc)} Expecting 'instances' to "
                              "be an list/array")
            if not instances:
                raise invalid(f"JSON Value: {tensors.debug_json(doc)} No values in 'instances' "
                              "array")
            inputs, row = tensors.instances_to_arrays(instances, dtypes), True
        elif "inputs" in doc:
            inputs, row = tensors.inputs_to_arrays(doc["inputs"], dtypes), False
        else:
            raise invalid("Missing 'inputs' or 'instances' key")
        outputs = handlers.predict_arrays(servable, key, inputs)
        self.request_logger.maybe_log(
            servable.name, "predict",
            lambda: handlers.predict_protos(servable, signature_name, inputs, outputs))
        return tensors.predict_response_json(outputs, row), str(servable.version)

    def _classify(self, spec: model_pb2.ModelSpec, doc: dict) -> tuple[str, str]:
        request = classification_pb2.ClassificationRequest(model_spec=spec)
        fill_examples_request(doc, request, "classify")
        servable = self.manager.servable(spec)
        response = handlers.classify_on(servable, request)
        self.request_logger.maybe_log(servable.name, "classify", lambda: (request, response))
        result = response.result
        if not result.classifications:
            raise invalid("Cannot convert empty ClassificationResults to JSON")
        rows = []
        for c in result.classifications:
            pairs = ",".join(f"[{json.dumps(x.label)}, {_float(x.score)}]" for x in c.classes)
            rows.append(f"[{pairs}]")
        return '{\n    "results": [' + ",".join(rows) + "]\n}", ""

    def _regress(self, spec: model_pb2.ModelSpec, doc: dict) -> tuple[str, str]:
        request = regression_pb2.RegressionRequest(model_spec=spec)
        fill_examples_request(doc, request, "regress")
        servable = self.manager.servable(spec)
        response = handlers.regress_on(servable, request)
        self.request_logger.maybe_log(servable.name, "regress", lambda: (request, response))
        result = response.result
        if not result.regressions:
            raise invalid("Cannot convert empty RegressionResults to JSON")
        return '{\n    "results": [' + ",".join(_float(r.value) for r in result.regressions) \
            + "]\n}", ""

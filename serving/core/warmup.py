"""TF Serving warm-up records (assets.extra/tf_serving_warmup_requests): writing them into an
export, reading them back, and replaying them through a servable before it serves.

Replaying needs the request handlers, which live in the API layer; they are passed in (a map
from PredictionLog kind to handler) so that core never imports the API.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from serving.core.errors import ServingError, invalid

if TYPE_CHECKING:  # trainers import this module to write warm-up files: no loader for them
    from serving.core.loader import Servable

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit on warm-up records per version

# PredictionLog kind ("predict_log", ...) → the handler that answers its request on a servable.
WarmupHandlers = Mapping[str, Callable[["Servable", Any], Any]]


def write_predict_warmup(saved_model_dir: str, inputs: Mapping[str, Sequence],
                         signature_name: str = "serving_default", repeats: int = 1) -> str:
    """Writes PredictionLogs of one Predict request that TF Serving replays before serving."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(signature_name=signature_name))
    for name, values in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(values))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(repeats):
            writer.write(log.SerializeToString())
    return path


def warmup_records(path: str) -> list[prediction_log_pb2.PredictionLog]:
    """The PredictionLogs in a version's warm-up file (none if it has no such file)."""
    file = os.path.join(path, WARMUP_FILE)
    if not os.path.isfile(file):
        return []
    records = []
    try:
        for index, raw in enumerate(tf.data.TFRecordDataset(file).as_numpy_iterator()):
            if index >= MAX_WARMUP_RECORDS:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"Number of warmup records exceeds the maximum "
                                   f"({MAX_WARMUP_RECORDS}) at {file}")
            log = prediction_log_pb2.PredictionLog()
            log.ParseFromString(raw)
            records.append(log)
    except tf.errors.OpError as e:
        raise ServingError(grpc.StatusCode.DATA_LOSS,
                           f"Failed to read warmup records {file}: {e.message}") from None
    return records


def replay_warmup(servable: Servable, handlers: WarmupHandlers, iterations: int = 1) -> int:
    """Sends each warm-up record through the servable's request path; any failure fails the
    load. Returns the number of requests replayed."""
    records = warmup_records(servable.path)
    for _ in range(max(1, iterations)):
        for log in records:
            kind = log.WhichOneof("log_type")
            try:
                if kind not in handlers:
                    raise invalid(f"Unsupported log_type for warmup: {kind}")
                handlers[kind](servable, getattr(log, kind).request)
            except ServingError as e:
                raise ServingError(e.code, f"Failed to warm up model {servable.name} version "
                                           f"{servable.version}: {e.message}") from None
    return len(records) * max(1, iterations)

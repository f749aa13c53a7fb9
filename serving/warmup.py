"""TF Serving warm-up records (assets.extra/tf_serving_warmup_requests)."""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

from collections.abc import Mapping, Sequence

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


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

"""TFLite conversion, metadata, and measurement on the LiteRT runtime that phones use.

Conversion modes: float32, float16 (float16 weights), dynamic (int8 weights, float
activations), int8 (full integer with a representative dataset), qat (a QAT model's fake-quant
ranges become int8 tensors; no representative dataset needed).
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import tensorflow as tf

from models.keras2 import keras

CONVERSIONS = ("float32", "float16", "dynamic", "int8", "qat")
IO_TYPES = {"uint8": tf.uint8, "int8": tf.int8}


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """The TFLite converter and LiteRT write C++ log lines straight to file descriptor 2,
    past TF_CPP_MIN_LOG_LEVEL; silence them while Shipyard's logs are quiet (no --verbose).
    Failures still surface as Python exceptions."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _fixed_batch_converter(model: keras.Model, batch_size: int) -> tf.lite.TFLiteConverter:
    """A converter of `model` traced with the batch dimension fixed (names kept)."""
    specs = [tf.TensorSpec([batch_size, *x.shape[1:]], x.dtype, name=x.name.split(":")[0])
             for x in model.inputs]

    @tf.function
    def run(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    # Saved through a bare module holding the function and the variables: 5x faster than
    # through the Keras model, whose save retraces every layer.
    module = tf.Module()
    module.run, module.variables_ = run, model.variables
    return tf.lite.TFLiteConverter.from_concrete_functions(
        [run.get_concrete_function(*specs)], module)


def convert(model: keras.Model, conversion: str,
            representative: Callable[[], Iterable[list[np.ndarray]]] | None = None,
            io_type: str = "uint8", batch_size: int | None = None) -> bytes:
    """A .tflite flatbuffer of `model`.

    Full-integer models take and return `io_type` (uint8 by default: Android's Task Library
    loads uint8 or float32 inputs only). With `batch_size` the batch dimension is fixed: a
    masked Keras LSTM, which does not fuse, then converts to builtin ops (its loop's tensor
    list needs static shapes).
    """
    if conversion not in CONVERSIONS:
        raise ValueError(f"unknown conversion {conversion!r}; choose from {CONVERSIONS}")
    converter = (tf.lite.TFLiteConverter.from_keras_model(model) if batch_size is None
                 else _fixed_batch_converter(model, batch_size))
    if conversion != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if conversion == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif conversion == "int8":
        if representative is None:
            raise ValueError("full-integer conversion needs a representative dataset")
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = IO_TYPES[io_type]
        converter.inference_output_type = IO_TYPES[io_type]
    elif conversion == "qat":
        # No TFLITE_BUILTINS_INT8 here: TF 2.16 would then demand a representative dataset
        # although the fake-quant layers already carry every range.
        converter.inference_input_type = IO_TYPES[io_type]
        converter.inference_output_type = IO_TYPES[io_type]
    with quiet_native_logs():
        return converter.convert()


def add_image_classifier_metadata(model: bytes, labels_file: str, mean: float = 127.5,
                                  std: float = 127.5) -> bytes:
    """Input normalisation and the label file, so the Task Library runs the model as is.

    The default mean / std map pixels 0..255 to [-1, 1], the range the models train on.
    """
    # Not `import tflite_support`: after TensorFlow its pybind types clash.
    from tensorflow_lite_support.metadata.python.metadata_writers import image_classifier

    writer = image_classifier.MetadataWriter.create_for_inference(
        model, input_norm_mean=[mean], input_norm_std=[std], label_file_paths=[labels_file])
    return writer.populate()


def read_metadata(model: bytes) -> tuple[dict, list[str]]:
    """(metadata as a dict, packed associated file names), via tflite-support's displayer."""
    import json

    from tensorflow_lite_support.metadata.python import metadata

    displayer = metadata.MetadataDisplayer.with_model_buffer(model)
    return json.loads(displayer.get_metadata_json()), displayer.get_packed_associated_file_list()


def tensor_types(model: bytes) -> dict[str, int]:
    """How many tensors of each dtype the model holds (e.g. {'int8': 60, 'int32': 14})."""
    interpreter = _interpreter(model, 1)
    counts: dict[str, int] = {}
    for detail in interpreter.get_tensor_details():
        name = np.dtype(detail["dtype"]).name
        counts[name] = counts.get(name, 0) + 1
    return counts


def interpreter(model: bytes, threads: int = 1):
    """A LiteRT interpreter with tensors allocated (for hooks that run a model their way, e.g.
    through its signature runner)."""
    return _interpreter(model, threads)


def _interpreter(model: bytes, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    # XNNPACK is the default delegate of LiteRT's CPU interpreter, as on Android.
    with quiet_native_logs():
        interpreter = Interpreter(model_content=model, num_threads=threads)
        interpreter.allocate_tensors()
    return interpreter


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if not scale:
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if not scale:
        return y.astype(np.float32)
    return (y.astype(np.float32) - zero_point) * scale


def predict(model: bytes, inputs: np.ndarray) -> np.ndarray:
    """Runs the model on each row of `inputs` (float, the Keras model's input scale) and returns
    float outputs; quantized inputs use the scale and zero point the converter chose."""
    interpreter = _interpreter(model, threads=1)
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    outputs = []
    for row in inputs:
        interpreter.set_tensor(input_detail["index"], _quantize(row[np.newaxis], input_detail))
        interpreter.invoke()
        outputs.append(_dequantize(interpreter.get_tensor(output_detail["index"]),
                                   output_detail)[0])
    return np.stack(outputs)


@dataclasses.dataclass(frozen=True)
class Latency:
    p50_ms: float
    p90_ms: float
    runs: int


def latency(model: bytes, runs: int = 50, warmup: int = 10, threads: int = 1) -> Latency:
    """Single-thread (by default) latency of one invoke on a batch of one, after warm-up."""
    interpreter = _interpreter(model, threads)
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(detail["dtype"], np.integer):
        info = np.iinfo(detail["dtype"])
        sample = rng.integers(info.min, info.max, detail["shape"], dtype=detail["dtype"])
    else:
        sample = rng.uniform(-1, 1, detail["shape"]).astype(detail["dtype"])
    interpreter.set_tensor(detail["index"], sample)
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(max(runs, 1)):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1e3)
    return Latency(float(np.percentile(times, 50)), float(np.percentile(times, 90)), len(times))


def gzip_size(data: bytes) -> int:
    """Size after gzip: what a download or an APK's compression sees (pruned / clustered
    weights only shrink this way)."""
    return len(gzip.compress(data, compresslevel=9))

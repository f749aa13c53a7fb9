"""Loads one model version into a Servable: a SavedModel on TensorFlow, or with
--prefer_tflite_model its model.tflite on LiteRT."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow.python.eager import context
from tensorflow.python.framework.constant_op import convert_to_eager_tensor

from serving.core.errors import ServingError, error_from_exception, failed_precondition, invalid

DEFAULT_SIGNATURE = "serving_default"
TFLITE_MODEL = "model.tflite"  # what --prefer_tflite_model looks for in a version directory


class _SignatureInputs(NamedTuple):
    names: frozenset[str]
    inputs: list[tuple[int, str, tf.dtypes.DType]]  # (index, name, dtype), sorted by name


# Batching hooks in here: (servable, signature name, inputs) -> outputs.
Runner = Callable[["Servable", str, Mapping[str, np.ndarray]], dict[str, np.ndarray]]


def read_meta_graph(path: str) -> meta_graph_pb2.MetaGraphDef:
    """The 'serve' MetaGraphDef from saved_model.pb (keeps signatures that load() hides)."""
    pb_path = os.path.join(path, "saved_model.pb")
    if not os.path.isfile(pb_path):
        raise ServingError(grpc.StatusCode.NOT_FOUND,
                           "Could not find SavedModel .pb or .pbtxt at supplied export "
                           f"directory path: {path}")
    saved_model = saved_model_pb2.SavedModel()
    with open(pb_path, "rb") as f, warnings.catch_warnings():
        # The pure-Python protobuf only warns on some garbage; treat that as corrupt too.
        warnings.simplefilter("error")
        try:
            saved_model.ParseFromString(f.read())
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError or RuntimeWarning kinds
            saved_model.Clear()
    if not saved_model.meta_graphs:
        raise ServingError(grpc.StatusCode.DATA_LOSS,
                           f"Could not parse SavedModel proto at {pb_path}")
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ServingError(grpc.StatusCode.NOT_FOUND,
                       "Could not find meta graph def matching supplied tags: { serve } in "
                       + path)


class Servable:
    """One loaded model version: its signature defs and callable signatures."""

    def __init__(self, name: str, version: int, path: str):
        self.name = name
        self.version = version
        self.path = path
        self.meta_graph = read_meta_graph(path)
        self.signature_defs = dict(self.meta_graph.signature_def)
        register_ops_for(self.meta_graph)
        try:
            self._loaded = tf.saved_model.load(path, tags=["serve"])
        except Exception as e:  # noqa: BLE001 - any load failure becomes the version's error
            raise error_from_exception(e) from None
        self._functions = {key: traced_signature(fn)
                           for key, fn in self._loaded.signatures.items()}
        self._signature_inputs: dict[str, _SignatureInputs] = {}
        self.runner: Runner | None = None  # set by the batching layer

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        key = name or DEFAULT_SIGNATURE
        if key not in self.signature_defs or key not in self._functions:
            raise failed_precondition(f'Serving signature key "{key}" not found.')
        return self.signature_defs[key]

    def input_dtypes(self, signature_name: str) -> dict[str, int]:
        return {k: v.dtype for k, v in self.signature(signature_name).inputs.items()}

    def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs a signature (through the batcher when batching is on)."""
        if self.runner is not None:
            return self.runner(self, signature_name or DEFAULT_SIGNATURE, inputs)
        return self.call(signature_name, inputs)

    def _inputs_of(self, key: str) -> _SignatureInputs:
        """The signature's input names and dtypes, worked out once per signature."""
        found = self._signature_inputs.get(key)
        if found is None:
            signature = self.signature(key)
            found = _SignatureInputs(
                frozenset(signature.inputs),
                [(index, name, tf.dtypes.as_dtype(info.dtype))
                 for index, (name, info) in enumerate(sorted(signature.inputs.items()))])
            self._signature_inputs[key] = found
        return found

    def call(self, signature_name: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One direct call of the signature's function, with TF Serving's input checks."""
        key = signature_name or DEFAULT_SIGNATURE
        if key not in self._functions:  # unloaded, or no such signature: signature() says
            self.signature(key)
        spec = self._inputs_of(key)
        sent = inputs.keys()
        if sent != spec.names:
            sent, expected = set(sent), spec.names
            extra = ",".join(sorted(sent - expected))
            missing = ",".join(sorted(expected - sent))
            message = (f"input size does not match signature: {len(sent)}!={len(expected)} "
                       f"len({{{','.join(sorted(sent))}}}) != "
                       f"len({{{','.join(sorted(expected))}}}).")
            if extra:
                message += f" Sent extra: {{{extra}}}."
            if missing:
                message += f" Missing but required: {{{missing}}}."
            raise invalid(message)
        tensors = {}
        for index, name, want in spec.inputs:
            value = inputs[name]
            if (type(value) is np.ndarray and value.dtype == want.as_numpy_dtype
                    and value.dtype.kind != "O"):
                tensors[name] = self._input(value)
                continue
            try:
                tensor = tf.convert_to_tensor(value)
            except (TypeError, ValueError) as e:
                raise error_from_exception(e) from None
            if tensor.dtype != want:
                raise invalid(f"Expects arg[{index}] to be {want.name} but "
                              f"{tensor.dtype.name} is provided")
            tensors[name] = tensor
        try:
            return self._execute(key, tensors)
        except Exception as e:  # noqa: BLE001 - TF reports bad shapes/values as exceptions
            raise error_from_exception(e) from None

    def _input(self, value: np.ndarray) -> Any:
        """A checked numpy input as the signature function takes it: the eager tensor that
        tf.convert_to_tensor ends in, without its ~50 us of dispatch."""
        return convert_to_eager_tensor(value, context.context())

    def _execute(self, key: str, tensors: dict[str, Any]) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self._functions[key](**tensors).items()}

    def unload(self) -> None:
        self._functions = {}
        self._signature_inputs = {}
        self._loaded = None


def traced_signature(signature: Any) -> Any:
    """The signature as a concrete function traced around it: the same graph and answers, but a
    call no longer looks up each captured variable's handle in Python (restored functions do;
    ~0.4 ms a call for MobileNet's 137 variables). The restored function where tracing fails."""
    _, inputs = signature.structured_input_signature
    try:
        return tf.function(lambda **kwargs: signature(**kwargs), autograph=False
                           ).get_concrete_function(**inputs)
    except Exception:  # noqa: BLE001 - an unusual signature is served as restored
        return signature


class TFLiteServable(Servable):
    """A version served from its `model.tflite` on LiteRT (TF Serving's --prefer_tflite_model):
    the signatures are the flatbuffer's SignatureDefs, run by its signature runners."""

    def __init__(self, name: str, version: int, path: str):
        import threading

        from ai_edge_litert.interpreter import Interpreter

        self.name, self.version, self.path = name, version, path
        try:
            self._interpreter = Interpreter(model_path=os.path.join(path, TFLITE_MODEL))
            signatures = self._interpreter.get_signature_list()
        except Exception as e:  # noqa: BLE001 - a corrupt flatbuffer is the version's error
            raise ServingError(grpc.StatusCode.DATA_LOSS,
                               f"Could not load TFLite model at {path}: {e}") from None
        if not signatures:
            raise failed_precondition(f"TFLite model at {path} has no signatures")
        self._runners = {key: self._interpreter.get_signature_runner(key) for key in signatures}
        self._functions = self._runners
        self.signature_defs = {key: _tflite_signature_def(runner)
                               for key, runner in self._runners.items()}
        self._lock = threading.Lock()  # one interpreter: one invocation at a time
        self._signature_inputs = {}
        self.runner = None

    def _input(self, value: np.ndarray) -> Any:
        return value  # LiteRT takes numpy as it is

    def _execute(self, key: str, tensors: dict[str, Any]) -> dict[str, np.ndarray]:
        arrays = {k: v if isinstance(v, np.ndarray) else v.numpy() for k, v in tensors.items()}
        with self._lock:
            outputs = self._runners[key](**arrays)
        return {k: np.array(v) for k, v in outputs.items()}

    def unload(self) -> None:
        self._functions = self._runners = {}
        self._signature_inputs = {}
        self._interpreter = None


def _tflite_signature_def(runner: Any) -> meta_graph_pb2.SignatureDef:
    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    for target, details in ((signature.inputs, runner.get_input_details()),
                            (signature.outputs, runner.get_output_details())):
        for key, detail in details.items():
            info = target[key]
            info.name = detail["name"]
            info.dtype = tf.dtypes.as_dtype(detail["dtype"]).as_datatype_enum
            for size in detail.get("shape_signature", detail["shape"]):
                info.tensor_shape.dim.add(size=int(size))
    return signature


def register_ops_for(meta_graph: meta_graph_pb2.MetaGraphDef) -> None:
    """Registers TensorFlow Text's ops when the graph uses ops TensorFlow lacks (wordpieces of
    translation and Smart Reply exports), so other models never pay for that import."""
    from tensorflow.python.framework import op_def_registry

    library = meta_graph.graph_def.library.function
    ops = {node.op for node in meta_graph.graph_def.node}
    for function in library:
        ops.update(node.op for node in function.node_def)
    ops -= {function.signature.name for function in library}  # calls of the graph's functions
    if any(op_def_registry.get(op) is None for op in ops):
        import tensorflow_text  # noqa: F401 - importing registers its ops


def load_servable(name: str, version: int, path: str,
                  prepare: Callable[[Servable], Any] | None = None,
                  warmup: Callable[[Servable], Any] | None = None,
                  prefer_tflite: bool = False) -> Servable:
    """Loads a version; `prepare` (batching) is attached before `warmup` runs, so warm-up goes
    the way requests will. With `prefer_tflite`, a version's model.tflite is served instead of
    its SavedModel."""
    if prefer_tflite and os.path.isfile(os.path.join(path, TFLITE_MODEL)):
        servable: Servable = TFLiteServable(name, version, path)
    else:
        servable = Servable(name, version, path)
    if prepare is not None:
        prepare(servable)
    if warmup is not None:
        warmup(servable)
    return servable

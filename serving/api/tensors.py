"""Tensors between TF Serving's JSON, TensorProto and numpy.

JSON rules follow TF Serving's json_tensor.cc: values are checked against the signature's dtype,
`{"b64": ...}` carries bytes for DT_STRING inputs, outputs are written with the shortest float32
round trip (2.05, not 2.049999952316284), and a DT_STRING output is base64'd only when its name
ends in `_bytes`.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2

from serving.core.errors import ServingError, invalid

B64_KEY = "b64"
MAX_RANK = 32  # numpy's limit (numpy 1.x), and far beyond any model's inputs

_NUMPY = {
    types_pb2.DT_FLOAT: np.float32, types_pb2.DT_DOUBLE: np.float64,
    types_pb2.DT_HALF: np.float16, types_pb2.DT_INT8: np.int8, types_pb2.DT_INT16: np.int16,
    types_pb2.DT_INT32: np.int32, types_pb2.DT_INT64: np.int64, types_pb2.DT_UINT8: np.uint8,
    types_pb2.DT_UINT16: np.uint16, types_pb2.DT_UINT32: np.uint32,
    types_pb2.DT_UINT64: np.uint64, types_pb2.DT_BOOL: np.bool_, types_pb2.DT_STRING: object,
}
_FLOATS = {types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_HALF}
_DTYPE_OF_NUMPY = {
    np.dtype(np.float32): types_pb2.DT_FLOAT, np.dtype(np.float64): types_pb2.DT_DOUBLE,
    np.dtype(np.float16): types_pb2.DT_HALF, np.dtype(np.int8): types_pb2.DT_INT8,
    np.dtype(np.int16): types_pb2.DT_INT16, np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.int64): types_pb2.DT_INT64, np.dtype(np.uint8): types_pb2.DT_UINT8,
    np.dtype(np.uint16): types_pb2.DT_UINT16, np.dtype(np.uint32): types_pb2.DT_UINT32,
    np.dtype(np.uint64): types_pb2.DT_UINT64, np.dtype(np.bool_): types_pb2.DT_BOOL,
    np.dtype(object): types_pb2.DT_STRING,
}


def dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)


def numpy_dtype(dtype: int) -> Any:
    if dtype not in _NUMPY:
        raise ServingError(_unimplemented(), f"Unsupported tensor type: {dtype_name(dtype)}")
    return _NUMPY[dtype]


def _unimplemented():
    import grpc

    return grpc.StatusCode.UNIMPLEMENTED


def debug_json(value: Any) -> str:
    """A compact JSON rendering for error messages, truncated like TF Serving's (256 bytes)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=True)
    return text if len(text) <= 256 else text[:256]


def json_type(value: Any) -> str:
    """RapidJSON's type name, as json_tensor.cc's JsonTypeString writes it."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Object"


def is_b64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(B64_KEY), str)


def decode_b64(value: Any) -> bytes:
    if not is_b64_object(value):
        raise invalid(f"JSON Value: {debug_json(value)} not formatted correctly for base64 data")
    try:
        return base64.b64decode(value[B64_KEY], validate=True)
    except (binascii.Error, ValueError):
        # TF Serving also accepts the URL-safe alphabet (absl::Base64Unescape does not, but
        # WebSafeBase64 clients exist); anything else is refused.
        try:
            return base64.urlsafe_b64decode(value[B64_KEY])
        except (binascii.Error, ValueError):
            raise invalid("Unable to base64 decode") from None


def _type_error(value: Any, dtype: int) -> ServingError:
    # TensorFlow's DataTypeString: DT_FLOAT → "float", DT_INT32 → "int32".
    return invalid(f"JSON Value: {debug_json(value)} Type: {json_type(value)} "
                   f"is not of expected type: {dtype_name(dtype)[3:].lower()}")


def _leaf(value: Any, dtype: int) -> Any:
    """One JSON scalar checked against dtype, as TF Serving's AddValueToTensor does."""
    if dtype == types_pb2.DT_STRING:
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, dict):
            return decode_b64(value)
        raise _type_error(value, dtype)
    if dtype == types_pb2.DT_BOOL:
        if isinstance(value, bool):
            return value
        raise _type_error(value, dtype)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(value, dtype)
    if dtype not in _FLOATS:
        if not isinstance(value, int):
            raise _type_error(value, dtype)
        info = np.iinfo(_NUMPY[dtype])
        if not info.min <= value <= info.max:
            raise _type_error(value, dtype)
    return value


def _shape_of(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, shape: list[int], dtype: int, out: list) -> None:
    if not isinstance(value, list):
        if level != len(shape):
            raise invalid(f"JSON Value: {debug_json(value)} found at incorrect level: "
                          f"{level + 1} in the JSON DOM. Expected at level: {len(shape)}")
        if isinstance(value, dict) and dtype != types_pb2.DT_STRING:
            raise _type_error(value, dtype)
        out.append(_leaf(value, dtype))
        return
    if level >= len(shape):
        raise invalid(f"Encountered list at unexpected level: {level} expected < {len(shape)}")
    if len(value) != shape[level]:
        raise invalid(f"Encountered list at unexpected size: {len(value)} at level: {level} "
                      f"expected size: {shape[level]}")
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def _fast_array(value: Any, dtype: int) -> np.ndarray | None:
    """numpy's own conversion when it provably agrees with the strict path (numbers only)."""
    if dtype == types_pb2.DT_STRING or dtype == types_pb2.DT_BOOL:
        return None
    try:
        arr = np.array(value)
    except ValueError:
        return None
    kind = arr.dtype.kind
    if kind == "f" and dtype in _FLOATS or kind in "iu" and dtype in _FLOATS:
        return arr.astype(_NUMPY[dtype], copy=False)
    if kind in "iu":
        target = _NUMPY[dtype]
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            return None
        return arr.astype(target, copy=False)
    return None


def json_to_array(value: Any, dtype: int) -> np.ndarray:
    """A JSON value (scalar or nested lists) as a numpy array of the signature's dtype."""
    numpy_dtype(dtype)
    if isinstance(value, list) and value and not isinstance(value[0], bool):
        arr = _fast_array(value, dtype)
        if arr is not None:
            return arr
    shape = _shape_of(value)
    if len(shape) > MAX_RANK:
        raise invalid(f"Tensor of rank {len(shape)} exceeds the supported rank of {MAX_RANK}")
    leaves: list = []
    _fill(value, 0, shape, dtype, leaves)
    arr = np.empty(len(leaves), dtype=_NUMPY[dtype])
    arr[:] = leaves
    return arr.reshape(shape)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def instances_to_arrays(instances: list, input_dtypes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Row format: a list over the batch, of values or (several inputs) objects keyed by input."""
    first = instances[0]
    objects = isinstance(first, dict) and not is_b64_object(first)
    if not objects and len(input_dtypes) > 1:
        raise invalid("instances is a plain list, but expecting list of objects as multiple "
                      "input tensors required as per tensorinfo_map")
    names = sorted(input_dtypes)
    columns: dict[str, list] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for index, item in enumerate(instances):
        is_object = isinstance(item, dict) and not is_b64_object(item)
        if objects and not is_object:
            raise invalid(f"Expecting object but got list at item {index} of input list")
        if not objects and is_object:
            raise invalid(f"Expecting value/list but got object at item {index} of input list")
        pairs = item.items() if objects else [(names[0], item)]
        for name, value in pairs:
            try:
                if name not in input_dtypes:
                    raise invalid(f"JSON object: does not have named input: {name}")
                arr = json_to_array(value, input_dtypes[name])
                if name in shapes and shapes[name] != arr.shape:
                    expected, got = shapes[name], arr.shape
                    if int(np.prod(expected)) != arr.size:
                        raise invalid(f"Expecting tensor size: {int(np.prod(expected))} "
                                      f"but got: {arr.size}")
                    raise invalid(f"Expecting shape {_shape_text(expected)} "
                                  f"but got: {_shape_text(got)}")
            except ServingError as e:
                where = f" key: {name}" if objects else ""
                raise invalid(f"Failed to process element: {index}{where} of 'instances' list. "
                              f"Error: INVALID_ARGUMENT: {e.message}") from None
            shapes[name] = arr.shape
            columns.setdefault(name, []).append(arr)
        if objects and set(item) != set(names):
            raise invalid(f"Failed to process element: {index} of 'instances' list. JSON object: "
                          f"{debug_json(item)} keys must be equal to: {','.join(names)}")
    return {name: np.stack(arrays) for name, arrays in columns.items()}


def inputs_to_arrays(inputs: Any, input_dtypes: Mapping[str, int]) -> dict[str, np.ndarray]:
    """Columnar format: one tensor, or an object of named tensors."""
    if not isinstance(inputs, dict) or is_b64_object(inputs):
        if len(input_dtypes) > 1:
            raise invalid("inputs is a plain value/list, but expecting an object as multiple "
                          "input tensors required as per tensorinfo_map")
        name = next(iter(input_dtypes))
        return {name: json_to_array(inputs, input_dtypes[name])}
    arrays = {}
    for name in sorted(input_dtypes):
        if name not in inputs:
            raise invalid(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(inputs[name], input_dtypes[name])
    return arrays


# --- numpy -> JSON text --------------------------------------------------------------------

def _float_text(x: Any) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    text = str(x)
    return text if ("." in text or "e" in text) else text + ".0"


def _leaf_texts(arr: np.ndarray, b64: bool) -> list[str]:
    flat = arr.reshape(-1)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype == np.float64:
            return [_float_text(x) for x in flat.tolist()]
        # str() of a numpy float32/float16 scalar is its shortest round-trip representation.
        return [_float_text(x) for x in flat]
    if kind == "b":
        return ["true" if x else "false" for x in flat.tolist()]
    if kind in "iu":
        return [str(x) for x in flat.tolist()]
    texts = []
    for x in flat.tolist():
        data = x if isinstance(x, bytes) else str(x).encode("utf-8")
        if b64:
            texts.append('{"b64": "' + base64.b64encode(data).decode("ascii") + '"}')
        else:
            texts.append(json.dumps(data.decode("utf-8", "replace"), ensure_ascii=False))
    return texts


def _nest(texts: list[str], shape: tuple[int, ...]) -> str:
    if not shape:
        return texts[0]
    for size in reversed(shape):
        texts = ["[" + ",".join(texts[i:i + size]) + "]" for i in range(0, len(texts), size)] \
            if size else ["[]"] * (len(texts) if texts else 1)
    return texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]"


def array_to_json(arr: np.ndarray, name: str = "") -> str:
    """A tensor as JSON text (nested lists), with TF Serving's number and b64 rules."""
    arr = np.asarray(arr)
    return _nest(_leaf_texts(arr, name.endswith("_bytes")), arr.shape)


def predict_response_json(outputs: Mapping[str, np.ndarray], row_format: bool) -> str:
    """`{"predictions": ...}` (row) or `{"outputs": ...}` (columnar), as TF Serving writes."""
    if not outputs:
        raise invalid("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    if not row_format:
        if len(names) == 1:
            body = array_to_json(outputs[names[0]], names[0])
        else:
            body = "{" + ",".join(json.dumps(n) + ": " + array_to_json(outputs[n], n)
                                  for n in names) + "}"
        return '{\n    "outputs": ' + body + "\n}"
    batch = None
    for name in names:
        arr = np.asarray(outputs[name])
        if arr.ndim == 0:
            raise invalid(f"Tensor name: {name} has no shape information ")
        if batch is not None and arr.shape[0] != batch:
            raise invalid(f"Tensor name: {name} has inconsistent batch size: {arr.shape[0]} "
                          f"expecting: {batch}")
        batch = arr.shape[0]
    rows_by_name = {}
    for name in names:
        arr = np.asarray(outputs[name])
        rows_by_name[name] = [array_to_json(arr[i], name) for i in range(arr.shape[0])]
    if len(names) == 1:
        rows = rows_by_name[names[0]]
    else:
        rows = ["{" + ",".join(json.dumps(n) + ": " + rows_by_name[n][i] for n in names) + "}"
                for i in range(batch)]
    return '{\n    "predictions": [' + ",".join(rows) + "\n    ]\n}"


# --- TensorProto <-> numpy -----------------------------------------------------------------
# tf.make_ndarray / tf.make_tensor_proto cost tens of microseconds a tensor in dtype lookups;
# these read and write the common dtypes with numpy directly, with make_ndarray's exact rules
# (tensor_content first, else the typed field; a short typed field is padded with its last
# value, an empty one gives zeros). Anything else goes to tf.make_ndarray itself.

# The typed field holding each dtype's values, and the numpy dtype read from it.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: ("float_val", np.float32), types_pb2.DT_DOUBLE: ("double_val", np.float64),
    types_pb2.DT_HALF: ("half_val", np.uint16), types_pb2.DT_INT8: ("int_val", np.int8),
    types_pb2.DT_INT16: ("int_val", np.int16), types_pb2.DT_INT32: ("int_val", np.int32),
    types_pb2.DT_UINT8: ("int_val", np.uint8), types_pb2.DT_UINT16: ("int_val", np.uint16),
    types_pb2.DT_INT64: ("int64_val", np.int64), types_pb2.DT_UINT32: ("uint32_val", np.uint32),
    types_pb2.DT_UINT64: ("uint64_val", np.uint64), types_pb2.DT_BOOL: ("bool_val", np.bool_),
}


def _fast_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray | None:
    """tf.make_ndarray(proto) for the dtypes above and DT_STRING; None for any other dtype."""
    dtype = proto.dtype
    field = _VALUE_FIELDS.get(dtype)
    if field is None and dtype != types_pb2.DT_STRING:
        return None
    shape = [d.size for d in proto.tensor_shape.dim]
    numpy_type = _NUMPY[dtype]
    content = proto.tensor_content
    if content:
        return np.frombuffer(content, dtype=numpy_type).copy().reshape(shape)
    if field is None:  # DT_STRING
        values = list(proto.string_val)
        padding = int(np.prod(shape, dtype=np.int64)) - len(values)
        if padding > 0:
            values.extend([values[-1] if values else ""] * padding)
        return np.array(values, dtype=object).reshape(shape)
    name, stored = field
    values = np.fromiter(getattr(proto, name), dtype=stored)
    if dtype == types_pb2.DT_HALF:
        values = values.view(np.float16)
    if values.size == 0:
        return np.zeros(shape, numpy_type)
    num_elements = np.prod(shape, dtype=np.int64)
    if values.size != num_elements:
        values = np.pad(values, (0, num_elements - values.size), "edge")
    return values.reshape(shape)


def proto_to_array(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """A request TensorProto (typed fields or tensor_content) as numpy, as tf.make_ndarray
    reads it."""
    try:
        arr = _fast_ndarray(proto)
        if arr is not None:
            return arr
    except (TypeError, ValueError):
        pass  # make_ndarray raises the same; its message is the one reported
    import tensorflow as tf

    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as e:
        raise invalid(f"Invalid tensor {dtype_name(proto.dtype)}: {e}") from None


def array_to_proto(arr: np.ndarray, proto: tensor_pb2.TensorProto | None = None
                   ) -> tensor_pb2.TensorProto:
    """A TensorProto with values in the typed fields (float_val, ...) as TF Serving answers;
    written into `proto` (e.g. a response's map entry) when one is given."""
    arr = np.asarray(arr)
    if arr.dtype.kind in "SUO":
        dtype = types_pb2.DT_STRING
    else:
        dtype = _DTYPE_OF_NUMPY.get(arr.dtype)
        if dtype is None:
            raise invalid(f"Unsupported output dtype {arr.dtype}")
    if proto is None:
        proto = tensor_pb2.TensorProto()
    else:
        proto.Clear()
    proto.dtype = dtype
    proto.tensor_shape.SetInParent()  # present even for a scalar, as TF Serving writes it
    dims = proto.tensor_shape.dim
    for size in arr.shape:
        dims.add(size=size)
    flat = arr.reshape(-1)
    if dtype == types_pb2.DT_STRING:
        proto.string_val.extend(x if isinstance(x, bytes) else str(x).encode("utf-8")
                                for x in flat.tolist())
    elif dtype == types_pb2.DT_HALF:
        proto.half_val.extend(flat.view(np.uint16).tolist())
    else:
        # tolist(): Python numbers, which the repeated fields take in one pass (numpy scalars
        # are converted one by one); int8/16 and uint8/16 travel in int_val.
        getattr(proto, _VALUE_FIELDS[dtype][0]).extend(flat.tolist())
    return proto

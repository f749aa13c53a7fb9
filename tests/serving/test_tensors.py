"""TensorProto <-> numpy as the server converts them (serving.api.tensors), pinned against
TensorFlow's own tf.make_ndarray / tf.make_tensor_proto, and the servable's input checks."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from serving.api import tensors
from serving.core.errors import ServingError
from serving.core.loader import Servable
from tests.serving.helpers import save_tiny_model

# Every dtype the server reads and writes, with values that catch lossy paths: NaN, ±inf,
# -0.0, subnormals, extremes of each integer type, bytes that are not UTF-8.
VALUES = {
    np.float32: [1.5, -0.0, np.nan, np.inf, -np.inf, 1e-45, 3.4028235e38, 0.1],
    np.float64: [1.5, -0.0, np.nan, np.inf, 5e-324, 1.7976931348623157e308, 0.1, -2.0],
    np.float16: [1.5, -0.0, np.nan, np.inf, 6e-8, 65504.0, 0.1, -2.0],
    np.int8: [-128, 127, 0, -1, 5, 6, 7, 8],
    np.int16: [-32768, 32767, 0, -1, 5, 6, 7, 8],
    np.int32: [-2**31, 2**31 - 1, 0, -1, 5, 6, 7, 8],
    np.int64: [-2**63, 2**63 - 1, 0, -1, 2**40, 6, 7, 8],
    np.uint8: [0, 255, 1, 2, 3, 4, 5, 6],
    np.uint16: [0, 65535, 1, 2, 3, 4, 5, 6],
    np.uint32: [0, 2**32 - 1, 1, 2, 3, 4, 5, 6],
    np.uint64: [0, 2**64 - 1, 1, 2, 3, 4, 5, 6],
    np.bool_: [True, False, True, True, False, False, True, False],
    object: [b"", b"a", b"\x00\xff\xfe", "é".encode(), b"b", b"c", b"d", b"e"],
}
SHAPES = [(), (0,), (2, 0, 3), (8,), (2, 4), (1, 2, 2, 2)]
FIELDS = {np.float32: "float_val", np.float64: "double_val", np.float16: "half_val",
          np.int8: "int_val", np.int16: "int_val", np.int32: "int_val", np.uint8: "int_val",
          np.uint16: "int_val", np.int64: "int64_val", np.uint32: "uint32_val",
          np.uint64: "uint64_val", np.bool_: "bool_val", object: "string_val"}


def _array(dtype, shape) -> np.ndarray:
    size = int(np.prod(shape))
    return np.array(VALUES[dtype][:size], dtype=dtype).reshape(shape)


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    """Same dtype, shape and bits (so NaN and -0.0 count)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype == object:
        assert got.tolist() == want.tolist()
    else:
        assert got.tobytes() == want.tobytes()
    assert got.flags.writeable


def _typed_proto(arr: np.ndarray) -> tensor_pb2.TensorProto:
    """What a client writing the typed fields sends (TF Serving's Java / Go / C++ clients):
    half_val holds float16 bit patterns, small integers travel in int_val."""
    dtype = tf.dtypes.as_dtype(arr.dtype if arr.dtype != object else tf.string)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    proto.tensor_shape.SetInParent()  # a scalar's empty shape is still written
    for size in arr.shape:
        proto.tensor_shape.dim.add(size=size)
    flat = arr.reshape(-1)
    values = flat.view(np.uint16).tolist() if arr.dtype == np.float16 else flat.tolist()
    getattr(proto, FIELDS[arr.dtype.type if arr.dtype != object else object]).extend(values)
    return proto


def _content_proto(arr: np.ndarray) -> tensor_pb2.TensorProto:
    """What a client writing tensor_content sends: the array's bytes (numbers only)."""
    proto = tensor_pb2.TensorProto(dtype=tf.dtypes.as_dtype(arr.dtype).as_datatype_enum,
                                   tensor_content=arr.tobytes())
    for size in arr.shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


@pytest.mark.parametrize("dtype", list(VALUES), ids=lambda d: np.dtype(d).name)
def test_proto_to_array_reads_what_make_ndarray_reads(dtype):
    for shape in SHAPES:
        arr = _array(dtype, shape)
        protos = [tf.make_tensor_proto(arr), _typed_proto(arr)]
        if dtype is not object:
            protos.append(_content_proto(arr))
        for proto in protos:
            _assert_same(tensors.proto_to_array(proto), tf.make_ndarray(proto))
            _assert_same(tensors.proto_to_array(proto), arr)
    # TF's Python clients (make_tensor_proto) send float32 images as tensor_content.
    assert tf.make_tensor_proto(_array(np.float32, (2, 4))).tensor_content


def _make_ndarray_error(proto: tensor_pb2.TensorProto) -> str:
    with pytest.raises((TypeError, ValueError)) as raised:
        tf.make_ndarray(proto)
    return str(raised.value)


def _assert_reads_like_make_ndarray(proto: tensor_pb2.TensorProto) -> None:
    """The same array as tf.make_ndarray, or its error as an INVALID_ARGUMENT."""
    try:
        want = tf.make_ndarray(proto)
    except (TypeError, ValueError):
        name = types_pb2.DataType.Name(proto.dtype)
        with pytest.raises(ServingError) as raised:
            tensors.proto_to_array(proto)
        assert raised.value.message == f"Invalid tensor {name}: {_make_ndarray_error(proto)}"
        return
    _assert_same(tensors.proto_to_array(proto), want)


@pytest.mark.parametrize("dtype", list(VALUES), ids=lambda d: np.dtype(d).name)
def test_short_and_empty_typed_fields_pad_like_make_ndarray(dtype):
    # One value for many elements (tf.make_tensor_proto(1.0, shape=[2, 3]) writes that):
    # repeated to fill the shape; no value at all gives zeros (empty strings).
    arr = _array(dtype, (3,))
    for shape in ((2, 3), (5,), ()):
        for kept in (0, 1, 2):
            proto = _typed_proto(arr[:kept])
            del proto.tensor_shape.dim[:]
            for size in shape:
                proto.tensor_shape.dim.add(size=size)
            _assert_reads_like_make_ndarray(proto)
    value = b"x" if dtype is object else np.array(VALUES[dtype][1], dtype)
    broadcast = tf.make_tensor_proto(value, shape=[2, 3])
    assert not broadcast.tensor_content
    _assert_same(tensors.proto_to_array(broadcast), tf.make_ndarray(broadcast))


@pytest.mark.parametrize("proto", [
    # tensor_content of the wrong length for its shape
    tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=b"\x00" * 12,
                           tensor_shape={"dim": [{"size": 2}, {"size": 2}]}),
    # a length that is no whole number of elements
    tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64, tensor_content=b"\x00" * 5,
                           tensor_shape={"dim": [{"size": 1}]}),
    # more typed values than the shape holds
    tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32, int_val=[1, 2, 3],
                           tensor_shape={"dim": [{"size": 2}]}),
    # strings cannot come as tensor_content
    tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_content=b"abcd",
                           tensor_shape={"dim": [{"size": 1}]}),
], ids=["content-size", "content-partial", "too-many-values", "string-content"])
def test_bad_tensors_report_make_ndarrays_error(proto):
    _make_ndarray_error(proto)  # it is an error for TensorFlow too
    _assert_reads_like_make_ndarray(proto)


@pytest.mark.parametrize("dtype", list(VALUES), ids=lambda d: np.dtype(d).name)
def test_array_to_proto_writes_typed_fields_that_read_back_exactly(dtype):
    for shape in SHAPES:
        arr = _array(dtype, shape)
        proto = tensors.array_to_proto(arr)
        assert proto.tensor_content == b""
        assert [d.size for d in proto.tensor_shape.dim] == list(shape)
        want_dtype = tf.dtypes.as_dtype(arr.dtype if dtype is not object else tf.string)
        assert proto.dtype == want_dtype.as_datatype_enum
        # Serialized: NaN != NaN would fail a comparison of the messages.
        assert proto.SerializeToString() == _typed_proto(arr).SerializeToString()
        _assert_same(tf.make_ndarray(proto), arr)
        _assert_same(tensors.proto_to_array(proto), arr)


def test_array_to_proto_fills_a_given_proto_and_writes_text_as_utf8():
    target = tf.make_tensor_proto(np.zeros((3, 3), np.float64))
    result = tensors.array_to_proto(np.array([["é", "b"]]), target)
    assert result is target
    assert target.dtype == types_pb2.DT_STRING and target.tensor_content == b""
    assert list(target.string_val) == ["é".encode(), b"b"]
    assert [d.size for d in target.tensor_shape.dim] == [1, 2]
    with pytest.raises(ServingError, match="Unsupported output dtype complex64"):
        tensors.array_to_proto(np.zeros(2, np.complex64))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    servable = Servable("tiny", 1, save_tiny_model(str(tmp_path_factory.mktemp("tiny") / "1")))
    yield servable
    servable.unload()


def test_call_takes_matching_arrays_and_checks_the_rest(tiny):
    out = tiny.call("", {"x": np.array([[1.0, 2.0]], np.float32)})
    _assert_same(out["y"], np.array([[3.0, 5.0]], np.float32))
    out = tiny.call("add", {"a": np.array([1, 2], np.int32), "b": np.array([3, 4], np.int32)})
    _assert_same(out["c"], np.array([4, 6], np.int32))
    out = tiny.call("echo", {"text": np.array([b"ab", b""], dtype=object)})
    _assert_same(out["length"], np.array([2, 0], np.int32))
    cases = [
        ("", {"x": np.array([[1.0, 2.0]], np.float64)},
         "Expects arg[0] to be float32 but float64 is provided"),
        ("add", {"a": np.array([1], np.int32), "b": np.array([1], np.int64)},
         "Expects arg[1] to be int32 but int64 is provided"),
        ("echo", {"text": np.array([1.0], np.float32)},
         "Expects arg[0] to be string but float32 is provided"),
        ("add", {"a": np.array([1], np.int32), "c": np.array([1], np.int32)},
         "input size does not match signature: 2!=2 len({a,c}) != len({a,b}). "
         "Sent extra: {c}. Missing but required: {b}."),
        ("nope", {"x": np.array([[1.0, 2.0]], np.float32)},
         'Serving signature key "nope" not found.'),
    ]
    for name, inputs, message in cases:
        with pytest.raises(ServingError) as raised:
            tiny.call(name, inputs)
        assert raised.value.message == message


def test_call_after_unload_is_refused(tmp_path):
    servable = Servable("tiny", 1, save_tiny_model(str(tmp_path / "1")))
    servable.call("", {"x": np.array([[1.0, 2.0]], np.float32)})  # caches the signature
    servable.unload()
    with pytest.raises(ServingError) as raised:
        servable.call("", {"x": np.array([[1.0, 2.0]], np.float32)})
    assert raised.value.message == 'Serving signature key "serving_default" not found.'

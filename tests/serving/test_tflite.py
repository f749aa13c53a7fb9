"""--prefer_tflite_model: a version's model.tflite is served on LiteRT instead of its SavedModel,
with the flatbuffer's signatures; versions without one fall back to the SavedModel."""

import numpy as np
import pytest
import tf_keras as keras

from models import tflite
from serving.config.options import options_from_flags
from tests.serving.helpers import http, running_server, save_tiny_model


@pytest.fixture(scope="module")
def dense():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(2, name="scores")(inputs))
    return model, tflite.convert(model, "float32")


def test_tflite_version_serves_its_signatures_on_litert(dense, tmp_path):
    model, flatbuffer = dense
    version = tmp_path / "base" / "1"
    version.mkdir(parents=True)
    (version / "model.tflite").write_bytes(flatbuffer)
    with running_server(model_name="dense", model_base_path=str(tmp_path / "base"),
                        prefer_tflite_model=True) as server:
        status, body = http(server, "GET", "/v1/models/dense/metadata")
        assert status == 200
        signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
        (input_key,) = signature["inputs"]
        assert signature["inputs"][input_key]["dtype"] == "DT_FLOAT"
        assert [d["size"] for d in signature["inputs"][input_key]["tensor_shape"]["dim"]] == [
            "-1", "3"]
        (output_key,) = signature["outputs"]
        rows = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], np.float32)
        status, body = http(server, "POST", "/v1/models/dense:predict",
                            {"inputs": {input_key: rows.tolist()}})
        assert status == 200, body
        np.testing.assert_allclose(body["outputs"], model.predict(rows, verbose=0), rtol=1e-5)
        # A wrong dtype or input name is a 400, not a crash.
        status, body = http(server, "POST", "/v1/models/dense:predict",
                            {"inputs": {"nope": rows.tolist()}})
        assert status == 400 and body["error"].startswith("Missing named input: features")


def test_without_the_flag_a_tflite_only_version_does_not_load_and_savedmodels_still_serve(
        dense, tmp_path):
    _, flatbuffer = dense
    base = tmp_path / "base"
    (base / "1").mkdir(parents=True)
    (base / "1" / "model.tflite").write_bytes(flatbuffer)
    save_tiny_model(str(base / "2"))
    with running_server(model_name="m", model_base_path=str(base),
                        model_config=None) as server:
        status, body = http(server, "POST", "/v1/models/m:predict", {"instances": [[1.0, 2.0]]})
        assert status == 200 and body["predictions"][0]["y"] == [3.0, 5.0]
    # With the flag, a version without model.tflite falls back to its SavedModel.
    with running_server(model_name="m", model_base_path=str(base),
                        prefer_tflite_model=True) as server:
        status, body = http(server, "POST", "/v1/models/m:predict", {"instances": [[1.0, 2.0]]})
        assert status == 200 and body["predictions"][0]["y"] == [3.0, 5.0]


def test_flag_is_parsed_as_tf_serving_spells_it():
    assert options_from_flags(["--model_base_path=/m", "--prefer_tflite_model"]
                              ).prefer_tflite_model
    assert not options_from_flags(["--model_base_path=/m", "--prefer_tflite_model=false"]
                                  ).prefer_tflite_model

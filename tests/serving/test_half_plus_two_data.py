"""scripts/make_half_plus_two.py writes TF Serving's half-plus-two test data: SavedModels with
the same SignatureDefs (keys, method names, aliases, tensor names, dtypes, shapes) in the same
version folders, and the same expected-metadata files. Compared with TF Serving's own copy where
the machine has one; on the generated data alone the comparison is with itself."""
from __future__ import annotations

import json
import os

from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from tests.serving.helpers import half_plus_two_script

MODELS = [
    "saved_model_half_plus_two_cpu/00000123",
    "saved_model_half_plus_two_2_versions/00000123",
    "saved_model_half_plus_two_2_versions/00000124",
    "saved_model_half_plus_two_tf2_cpu/00000123",
    "generated/tf_saved_model_save/00000123",
    "generated/tf_saved_model_save_multiple_signatures/00000123",
    "generated/keras_sequential_saved_model_save/00000123",
    "generated/distrat_sequential_keras_saved_model_save/00000123",
]
METADATA = ["half_plus_two_model_metadata.json",
            "saved_model_half_plus_two_2_versions_metadata.json"]


def _signature_defs(path: str) -> dict:
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    (graph,) = [g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags]
    return {key: json_format.MessageToDict(value) for key, value in graph.signature_def.items()}


def test_models_have_tf_servings_signatures(generated_tfserving, tfserving):
    for model in MODELS:
        assert _signature_defs(os.path.join(generated_tfserving, model)) == \
            _signature_defs(os.path.join(tfserving, model)), model


def test_metadata_files_match(generated_tfserving, tfserving):
    for name in METADATA:
        with open(os.path.join(generated_tfserving, name)) as ours, \
                open(os.path.join(tfserving, name)) as theirs:
            assert json.load(ours) == json.load(theirs), name


def test_script_usage(capsys):
    assert half_plus_two_script().main([]) == 2
    assert "python scripts/make_half_plus_two.py OUT_DIR" in capsys.readouterr().err

"""Writes half-plus-two test models like TF Serving's own model-server test data, so that the
serving tests need nothing from outside the repository.

    python scripts/make_half_plus_two.py OUT_DIR

The models compute y = 0.5 x + 2 with the signature names, input / output names, tensor names,
dtypes, shapes, method names and version folders of TF Serving's test data (tensorflow_serving/
servables/tensorflow/testdata, tag 2.16.1); the exports themselves are built here:

    saved_model_half_plus_two_cpu/00000123          TF1 graph export: serving_default (x → y),
                                                    classify_x_to_y, regress_x_to_y,
                                                    regress_x_to_y2 (0.5 x + 3), regress_x2_to_y3
    saved_model_half_plus_two_2_versions/00000123   the same (plus classify_x2_to_y3), two
                                          /00000124 versions
    saved_model_half_plus_two_tf2_cpu/00000123      native TF2 export of the same signatures
                                                    (method name tensorflow/serving/predict)
    generated/*/00000123                            the four models TF Serving's
                                                    tensorflow_model_server_test.py saves
    half_plus_two_model_metadata.json,              GET .../metadata as TF Serving answers it
    saved_model_half_plus_two_2_versions_metadata.json
    bad_model_config.txt, monitoring_config.txt, models.config.in ("${DATA}": OUT_DIR)

Writing everything takes a few seconds (the TF1 graphs build in milliseconds; the Keras and
tf.Module saves take most of it).
"""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence

import tensorflow as tf

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

A, B, C = 0.5, 2.0, 3.0  # y = A x + B, y2 = A x + C, y3 = A x2 + C
ASSET_NAME, ASSET_TEXT = "foo.txt", "asset-file-contents"

HALF_PLUS_TWO = "saved_model_half_plus_two_cpu"
TWO_VERSIONS = "saved_model_half_plus_two_2_versions"
HALF_PLUS_TWO_TF2 = "saved_model_half_plus_two_tf2_cpu"
VERSION = "00000123"  # the folder names of TF Serving's test data
VERSIONS = ("00000123", "00000124")

# The TF1 exports' tensors: name → (dtype, shape; None is unknown rank).
TF1_TENSORS = {
    "tf_example:0": ("DT_STRING", None),
    "x:0": ("DT_FLOAT", [-1, 1]),
    "y:0": ("DT_FLOAT", [-1, 1]),
    "y2:0": ("DT_FLOAT", [-1, 1]),
    "x2:0": ("DT_FLOAT", [-1, 1]),
    "y3:0": ("DT_FLOAT", [-1, 1]),
}
# Signature → (method name, {input alias: tensor}, {output alias: tensor}).
TF1_SIGNATURES = {
    "serving_default": (PREDICT, {"x": "x:0"}, {"y": "y:0"}),
    "classify_x_to_y": (CLASSIFY, {"inputs": "tf_example:0"}, {"scores": "y:0"}),
    "regress_x_to_y": (REGRESS, {"inputs": "tf_example:0"}, {"outputs": "y:0"}),
    "regress_x_to_y2": (REGRESS, {"inputs": "tf_example:0"}, {"outputs": "y2:0"}),
    "regress_x2_to_y3": (REGRESS, {"inputs": "x2:0"}, {"outputs": "y3:0"}),
}
# The two-version model has one more: a classification signature over a float input.
TWO_VERSION_SIGNATURES = {**TF1_SIGNATURES,
                          "classify_x2_to_y3": (CLASSIFY, {"inputs": "x2:0"},
                                                {"scores": "y3:0"})}


def _asset_source(work_dir: str) -> str:
    path = os.path.join(work_dir, ASSET_NAME)
    with open(path, "w") as f:
        f.write(ASSET_TEXT)
    return path


def write_tf1_half_plus_two(export_dir: str, signatures: dict, work_dir: str) -> str:
    """A TF1 graph export (ref variables, tf.Example parsing in the graph), as TF 1.x wrote
    TF Serving's half_plus_two; `signatures` picks from the tensors of TF1_TENSORS."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        a = v1.Variable(A, name="a", use_resource=False)
        b = v1.Variable(B, name="b", use_resource=False)
        c = v1.Variable(C, name="c", use_resource=False)
        serialized = v1.placeholder(tf.string, name="tf_example")
        features = v1.io.parse_example(serialized, {
            "x": v1.io.FixedLenFeature([1], tf.float32),
            "x2": v1.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        x = tf.identity(features["x"], name="x")
        x2 = tf.identity(features["x2"], name="x2")
        for tensor in (x, x2):
            # ParseExampleV2 cannot infer a shape from an input of unknown rank; TF 1.x's could.
            tensor.set_shape([None, 1])
        tf.add(a * x, b, name="y")
        tf.add(a * x, c, name="y2")
        tf.add(a * x2, c, name="y3")
        asset = tf.constant(_asset_source(work_dir), name="asset_filepath")
        v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, asset)

        def tensor_infos(aliases: dict[str, str]) -> dict:
            return {alias: v1.saved_model.utils.build_tensor_info(graph.get_tensor_by_name(name))
                    for alias, name in aliases.items()}

        signature_defs = {
            key: v1.saved_model.signature_def_utils.build_signature_def(
                tensor_infos(inputs), tensor_infos(outputs), method)
            for key, (method, inputs, outputs) in signatures.items()}
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(export_dir)
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map=signature_defs,
                assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                main_op=tf.no_op(name="main_op"), strip_default_attrs=True)
            builder.save()
    return export_dir


class _HalfPlusTwo(tf.Module):
    """The TF2 export: the same arithmetic as tf.functions, one per signature."""

    def __init__(self, asset_path: str):
        super().__init__()
        self.a = tf.Variable(A, name="a")
        self.b = tf.Variable(B, name="b")
        self.c = tf.Variable(C, name="c")
        self.asset = tf.saved_model.Asset(asset_path)

    def _x(self, serialized: tf.Tensor, feature: str) -> tf.Tensor:
        spec = tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0] if feature == "x2"
                                     else None)
        return tf.io.parse_example(serialized, {feature: spec})[feature]

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([1], tf.float32)])
    def predict(self, x=tf.constant([0.0])):  # noqa: B008 - the default is saved in the signature
        return {"y": self.a * x + self.b}

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string)])
    def classify_x_to_y(self, inputs):
        return {"scores": self.a * self._x(inputs, "x") + self.b}

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string)])
    def regress_x_to_y(self, inputs):
        return {"outputs": self.a * self._x(inputs, "x") + self.b}

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string)])
    def regress_x_to_y2(self, inputs):
        return {"outputs": self.a * self._x(inputs, "x") + self.c}

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([1], tf.float32)])
    def regress_x2_to_y3(self, inputs):
        return {"outputs": self.a * inputs + self.c}

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([1], tf.float32)])
    def classify_x2_to_y3(self, inputs):
        return {"scores": self.a * inputs + self.c}


def write_tf2_half_plus_two(export_dir: str, work_dir: str) -> str:
    module = _HalfPlusTwo(_asset_source(work_dir))
    signatures = {"serving_default": module.predict}
    for key in ("classify_x_to_y", "regress_x_to_y", "regress_x_to_y2", "regress_x2_to_y3",
                "classify_x2_to_y3"):
        signatures[key] = getattr(module, key)
    tf.saved_model.save(module, export_dir, signatures=signatures)
    return export_dir


def write_generated_models(root: str) -> dict[str, str]:
    """The four SavedModels of TF Serving's tensorflow_model_server_test.py, under root/<name>:
    y = 6 x of any shape; two signatures answering the scalars 1.0 and 2.0; Keras Sequential
    identity x → y; and a Keras Dense(1) of weight 1 built under a distribution strategy."""
    import tf_keras as keras

    paths = {name: os.path.join(root, name, VERSION) for name in (
        "tf_saved_model_save", "tf_saved_model_save_multiple_signatures",
        "keras_sequential_saved_model_save", "distrat_sequential_keras_saved_model_save")}

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.v1, self.v2 = tf.Variable(2.0), tf.Variable(3.0)

        @tf.function(autograph=False, input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
        def __call__(self, x):
            return {"y": x * self.v1 * self.v2}

    scale = Scale()
    tf.saved_model.save(scale, paths["tf_saved_model_save"],
                        signatures={"serving_default": scale.__call__})

    class Constants(tf.Module):
        def __init__(self):
            super().__init__()
            self.unused = tf.Variable(0.0)  # a variable to restore, as a real model has

        @tf.function(autograph=False, input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
        def serve_one(self, x):
            return {"y": tf.constant(1.0)}

        @tf.function(autograph=False, input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
        def serve_two(self, x):
            return {"y": tf.constant(2.0)}

    constants = Constants()
    tf.saved_model.save(constants, paths["tf_saved_model_save_multiple_signatures"],
                        signatures={"custom_signature_key": constants.serve_two,
                                    "serving_default": constants.serve_one})

    def save_keras(model: keras.Model, path: str) -> None:
        # An explicit serving signature without AutoGraph and without the layers' traces:
        # the same serving_default, saved in a fraction of a second instead of ~10 s.
        serve = tf.function(lambda x: {"y": model(x)}, autograph=False,
                            input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
        model.save(path, save_format="tf", save_traces=False,
                   signatures={"serving_default": serve})

    identity = keras.Sequential([keras.Input((1,), name="x"),
                                 keras.layers.Activation("linear", name="y")])
    save_keras(identity, paths["keras_sequential_saved_model_save"])
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        dense = keras.Sequential([keras.Input((1,), name="x"),
                                  keras.layers.Dense(1, kernel_initializer="ones",
                                                     bias_initializer="zeros", name="y")])
    save_keras(dense, paths["distrat_sequential_keras_saved_model_save"])
    return paths


def _tensor_json(name: str) -> dict:
    dtype, shape = TF1_TENSORS[name]
    dims = [{"size": str(size), "name": ""} for size in shape or []]
    return {"dtype": dtype, "tensor_shape": {"dim": dims, "unknown_rank": shape is None},
            "name": name}


def metadata_json(model_name: str, version: int, signatures: dict) -> dict:
    """GET /v1/models/<model>/metadata as TF Serving answers it for a TF1 export."""
    signature_defs = {
        key: {"inputs": {alias: _tensor_json(t) for alias, t in inputs.items()},
              "outputs": {alias: _tensor_json(t) for alias, t in outputs.items()},
              "method_name": method, "defaults": {}}
        for key, (method, inputs, outputs) in signatures.items()}
    return {"model_spec": {"name": model_name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {"signature_def": signature_defs}}}


MODELS_CONFIG = """\
# The models of this folder for one --model_config_file; ${DATA} is the folder's path.
model_config_list {
  config { name: "half_plus_two" base_path: "${DATA}/saved_model_half_plus_two_cpu"
           model_platform: "tensorflow" }
  config { name: "saved_model_half_plus_two_2_versions"
           base_path: "${DATA}/saved_model_half_plus_two_2_versions"
           model_platform: "tensorflow"
           model_version_policy { specific { versions: 123 } }
           version_labels { key: "Version_Label" value: 123 } }
  config { name: "half_plus_two_tf2" base_path: "${DATA}/saved_model_half_plus_two_tf2_cpu"
           model_platform: "tensorflow" }
  config { name: "tf_saved_model_save" base_path: "${DATA}/generated/tf_saved_model_save"
           model_platform: "tensorflow" }
  config { name: "tf_saved_model_save_multiple_signatures"
           base_path: "${DATA}/generated/tf_saved_model_save_multiple_signatures"
           model_platform: "tensorflow" }
  config { name: "keras_sequential_saved_model_save"
           base_path: "${DATA}/generated/keras_sequential_saved_model_save"
           model_platform: "tensorflow" }
  config { name: "distrat_sequential_keras_saved_model_save"
           base_path: "${DATA}/generated/distrat_sequential_keras_saved_model_save"
           model_platform: "tensorflow" }
}
"""
MONITORING_CONFIG = """\
prometheus_config {
  enable: true
  path: "/monitoring/prometheus/metrics"
}
"""
BAD_MODEL_CONFIG = "this file is { not a ModelServerConfig\n"


def write_text_files(out_dir: str) -> None:
    files = {
        "models.config.in": MODELS_CONFIG,
        "monitoring_config.txt": MONITORING_CONFIG,
        "bad_model_config.txt": BAD_MODEL_CONFIG,
        "half_plus_two_model_metadata.json": json.dumps(
            metadata_json("default", int(VERSION), TF1_SIGNATURES), indent=1),
        f"{TWO_VERSIONS}_metadata.json": json.dumps(
            metadata_json(TWO_VERSIONS, int(VERSION), TWO_VERSION_SIGNATURES), indent=1),
    }
    for name, text in files.items():
        with open(os.path.join(out_dir, name), "w") as f:
            f.write(text)


def make_half_plus_two(out_dir: str) -> str:
    """Writes every model and file of the module docstring into out_dir; returns out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    work_dir = tempfile.mkdtemp(prefix="half-plus-two-")
    try:
        write_tf1_half_plus_two(os.path.join(out_dir, HALF_PLUS_TWO, VERSION), TF1_SIGNATURES,
                                work_dir)
        for version in VERSIONS:
            write_tf1_half_plus_two(os.path.join(out_dir, TWO_VERSIONS, version),
                                    TWO_VERSION_SIGNATURES, work_dir)
        write_tf2_half_plus_two(os.path.join(out_dir, HALF_PLUS_TWO_TF2, VERSION), work_dir)
        write_generated_models(os.path.join(out_dir, "generated"))
        write_text_files(out_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    print(make_half_plus_two(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

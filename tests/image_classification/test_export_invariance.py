"""What the Trainer exports does not depend on how it trained: augmentation never reaches the
exported graph, and a model trained in mixed precision exports a float32 model that serves what
the 16-bit model computed (to bfloat16's precision)."""
import io
import types

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from models.image_classification import trainer
from models.image_classification.features import IMAGE_KEY, LABEL_KEY, decode_and_resize
from models.keras2 import keras

RESOLUTION = 32
CONFIG = {"model": "mobilenet_v1", "alpha": 0.25, "resolution": RESOLUTION, "batch_size": 8,
          "learning_rate": 0.01, "lr_schedule": "cosine", "label_smoothing": 0.1,
          "epochs": 1, "augment": {"shift": 0.2, "rotation": 20, "zoom": 0.2}}


class _Transform(keras.layers.Layer):
    """Stands in for Transform's layer: encoded images → the model's pixels."""

    def call(self, features):
        return {IMAGE_KEY: decode_and_resize(tf.reshape(features[IMAGE_KEY], [-1]),
                                             RESOLUTION)}


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES = [_png(i) for i in range(16)]


@pytest.fixture
def run(monkeypatch, tmp_path):
    """run_fn on 16 random images of 3 classes with a stand-in Transform output; returns
    (serving_default of the export, the model as trained, whether augmentation ran)."""
    augmented = []

    def dataset(fn_args, files, tft_output, label_key, batch_size, shuffle, batch_map=None,
                sample=None):
        pixels = decode_and_resize(tf.constant(IMAGES), RESOLUTION)
        data = tf.data.Dataset.from_tensor_slices(
            ({IMAGE_KEY: pixels}, tf.range(16) % 3)).batch(batch_size)
        if batch_map is not None:
            augmented.append(files[0])
            data = data.map(batch_map)
        return data.repeat()

    transform = types.SimpleNamespace(
        vocabulary_by_name=lambda name: [b"a", b"b", b"c"],
        transform_features_layer=_Transform,
        raw_feature_spec=lambda: {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
                                  LABEL_KEY: tf.io.FixedLenFeature([], tf.string)})
    monkeypatch.setattr(trainer, "transformed_dataset", dataset)
    monkeypatch.setattr(trainer.tft, "TFTransformOutput", lambda path: transform)
    monkeypatch.setattr(trainer, "write_predict_warmup", lambda *args: None)
    real_fit = trainer.fit_steps

    def go(name: str, config: dict, weights: list | None = None):
        trained = {}

        def fit(model, *args, **kwargs):
            if weights is None:
                real_fit(model, *args, **kwargs)
            else:  # the same weights as another run: only the export differs
                model.set_weights(weights)
            trained["model"] = model

        monkeypatch.setattr(trainer, "fit_steps", fit)
        keras.utils.set_random_seed(0)
        serving_dir = tmp_path / name / "Format-Serving"
        trainer.run_fn(types.SimpleNamespace(
            custom_config=dict(config), transform_graph_path="unused", train_files=["train"],
            eval_files=["eval"], train_steps=4, eval_steps=1,
            model_run_dir=str(tmp_path / name / "logs"), serving_model_dir=str(serving_dir)))
        served = tf.saved_model.load(str(serving_dir)).signatures["serving_default"]
        return served, trained["model"], list(augmented)

    return go


def test_augmentation_never_reaches_the_exported_graph(run):
    served_augmented, model, augmented = run("augmented", CONFIG)
    assert augmented == ["train"]  # it did run, on the training split only
    served_plain, _, _ = run("plain", {**CONFIG, "augment": None}, weights=model.get_weights())
    batch = tf.constant(IMAGES[:4])
    with_augmentation = served_augmented(image_bytes=batch)["probabilities"].numpy()
    without = served_plain(image_bytes=batch)["probabilities"].numpy()
    np.testing.assert_array_equal(with_augmentation, without)
    # The same image twice gives the same answer: nothing random is left in serving.
    np.testing.assert_array_equal(
        served_augmented(image_bytes=batch)["probabilities"].numpy(), with_augmentation)


def test_mixed_bfloat16_trains_and_exports_float32(run):
    served, model, _ = run("mixed", {**CONFIG, "mixed_precision": "mixed_bfloat16"})
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("predictions").compute_dtype == "float32"
    out = served(image_bytes=tf.constant(IMAGES[:4]))["probabilities"]
    assert out.dtype == tf.float32
    # The export is float32 (no bfloat16 op left) and serves what the 16-bit model computed.
    pixels = decode_and_resize(tf.constant(IMAGES[:4]), RESOLUTION)
    np.testing.assert_allclose(out.numpy(), model(pixels, training=False).numpy(), atol=0.03)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    functions = "".join(str(f) for f in served.graph.as_graph_def().library.function)
    assert "DT_FLOAT" in functions and "DT_BFLOAT16" not in functions

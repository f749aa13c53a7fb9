"""The image-classification family's mobile hook (`HOOK`, a models.mobile_hook.MobileHook): what
the optimiser, the TFLite converter and the fidelity gate need to know about this family (named
by dotted path in the pipeline's mobile config). A MobileNet / Inception runs row by row on
LiteRT as it does in Keras, so the hook's defaults apply, except for the label file and the
TFLite metadata, which are this family's."""
from __future__ import annotations

import glob
import os

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from models import tflite
from models.artifacts import KERAS_DIR
from models.image_classification.features import IMAGE_KEY, LABEL_KEY, LABEL_VOCABULARY
from models.keras2 import keras
from models.mobile_hook import MobileHook

METRIC = "sparse_categorical_accuracy"
KERAS_MODEL = os.path.join(KERAS_DIR, "model.keras")


def keras_model_path(model_uri: str) -> str:
    """Where the Trainer saves the bare Keras model, beside the serving SavedModel."""
    return os.path.join(model_uri, KERAS_MODEL)


def load_model(model_uri: str) -> keras.Model:
    """The trained Keras model (no Transform layer: it takes preprocessed images)."""
    path = keras_model_path(model_uri)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no Keras model at {path}: the Trainer module must save one "
                                "for the mobile components")
    return keras.models.load_model(path, compile=False)


def labels(transform_graph_uri: str) -> list[str]:
    vocabulary = tft.TFTransformOutput(transform_graph_uri).vocabulary_by_name(LABEL_VOCABULARY)
    return [v.decode() if isinstance(v, bytes) else v for v in vocabulary]


def load_split(transform_graph_uri: str, examples_uri: str, split: str,
               limit: int | None = None, model_uri: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, R, R, 3] in [-1, 1], label ids [N]) from Transform's output split."""
    spec = tft.TFTransformOutput(transform_graph_uri).transformed_feature_spec()
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    if not files:
        raise FileNotFoundError(f"no transformed examples for split {split!r} in {examples_uri}")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        lambda s: tf.io.parse_single_example(s, spec))
    if limit:
        dataset = dataset.take(limit)
    images, ids = [], []
    for example in dataset:
        images.append(example[IMAGE_KEY].numpy())
        ids.append(int(np.reshape(example[LABEL_KEY].numpy(), [-1])[0]))
    return np.stack(images).astype(np.float32), np.asarray(ids, np.int64)


def metric(probabilities: np.ndarray, label_ids: np.ndarray) -> float:
    """The family's headline metric (higher is better)."""
    return float(np.mean(np.argmax(probabilities, axis=-1) == label_ids))


def add_metadata(model: bytes, assets_dir: str) -> bytes:
    """Normalisation (pixels 0..255 → [-1, 1], as Transform scales) and the label file."""
    return tflite.add_image_classifier_metadata(model, os.path.join(assets_dir, "labels.txt"),
                                                mean=127.5, std=127.5)


def bundle_files(transform_graph_uri: str, model_uri: str | None = None) -> dict[str, bytes]:
    """labels.txt: Transform's label vocabulary, one label a line (line number = class id)."""
    return {"labels.txt": "".join(f"{label}\n" for label in labels(transform_graph_uri)).encode()}


class ImageClassificationMobile(MobileHook):
    """The Keras classifier as it is; labels.txt and image-classifier metadata added."""

    # The module's functions stay its API (tests, benchmarks and the README use them); the
    # class says which of them implement the hook.
    metric_name = METRIC
    load_model = staticmethod(load_model)
    load_split = staticmethod(load_split)
    metric = staticmethod(metric)
    bundle_files = staticmethod(bundle_files)
    add_metadata = staticmethod(add_metadata)


HOOK = ImageClassificationMobile()

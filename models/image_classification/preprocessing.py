"""TFX Transform module: decode, resize and normalise in graph; labels → ids via a vocabulary."""
from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from models.image_classification.features import (
    IMAGE_KEY,
    LABEL_KEY,
    LABEL_VOCABULARY,
    decode_and_resize,
)


def _dense_1d(tensor: tf.Tensor | tf.SparseTensor, default: Any) -> tf.Tensor:
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value=default)
    return tf.reshape(tensor, [-1])


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """Raw {image: encoded bytes, label: string or int} → {image: [R, R, 3] float, label: id}."""
    images = decode_and_resize(_dense_1d(inputs[IMAGE_KEY], b""), custom_config["resolution"])
    labels = _dense_1d(inputs[LABEL_KEY], b"")
    if labels.dtype != tf.string:
        labels = tf.strings.as_string(labels)
    label_ids = tft.compute_and_apply_vocabulary(labels, vocab_filename=LABEL_VOCABULARY)
    return {IMAGE_KEY: images, LABEL_KEY: label_ids}

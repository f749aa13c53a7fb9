"""Feature names and the in-graph image preprocessing shared by Transform and serving."""
from __future__ import annotations

import tensorflow as tf

IMAGE_KEY = "image"
LABEL_KEY = "label"
LABEL_VOCABULARY = "labels"


def decode_and_resize(encoded: tf.Tensor, resolution: int, channels: int = 3) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF bytes [batch] → float32 [batch, R, R, C] scaled to [-1, 1]."""

    def one(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), [resolution, resolution])
        image.set_shape([resolution, resolution, channels])
        return image / 127.5 - 1.0

    return tf.map_fn(one, encoded, fn_output_signature=tf.float32)

"""What the families' Transform preprocessing_fns share in reading raw features."""
from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft


def one_per_example(tensor: tf.Tensor | tf.SparseTensor, default: Any = b"") -> tf.Tensor:
    """A feature with one value per example as a [batch] tensor. An optional feature arrives
    sparse: `default` where an example lacks it, also in a batch where no example has it (its
    sparse width is 0 there, so it is densified to width 1 explicitly)."""
    if isinstance(tensor, tf.SparseTensor):
        tensor = tft.sparse_tensor_to_dense_with_shape(tensor, [None, 1], default_value=default)
    return tf.reshape(tensor, [-1])

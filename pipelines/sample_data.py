"""Bundled sample data, built deterministically from data that installed packages ship."""
from __future__ import annotations

import io
import os

from pipelines.image_data import example_bytes, write_tfrecords


def build_digits(directory: str) -> str:
    """scikit-learn's 1,797 handwritten digits (8×8, 17 grey levels) as tf.Examples of
    PNG bytes + label ('0'…'9'). Returns the directory holding the TFRecord file."""
    path = os.path.join(directory, "digits.tfrecord")
    if os.path.exists(path):
        return directory
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)

    def records():
        for image, target in zip(pixels, digits.target, strict=True):
            buffer = io.BytesIO()
            Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=False)
            yield example_bytes(buffer.getvalue(), str(int(target)))

    write_tfrecords(records(), path)
    return directory

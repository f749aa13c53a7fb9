"""TFRecord files of tf.Examples, as every family's data preparation writes and finds them."""
from __future__ import annotations

import glob
import os
from collections.abc import Iterable

TFRECORD_PATTERNS = ("*.tfrecord", "*.tfrecord.gz", "*.tfrecords", "*.tfrec")


def write_tfrecords(records: Iterable[bytes], path: str) -> None:
    """Writes records to `path` atomically (a crash never leaves a truncated file behind)."""
    import tensorflow as tf

    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.partial"
    try:
        with tf.io.TFRecordWriter(partial) as writer:
            for record in records:
                writer.write(record)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def find_tfrecords(data_dir: str) -> list[str]:
    return sorted(f for p in TFRECORD_PATTERNS for f in glob.glob(os.path.join(data_dir, p)))

"""Reading an Examples artifact's split back (GZIP TFRecords of tf.Examples under
`<uri>/Split-<split>/`), for evaluation hooks and mobile hooks."""
from __future__ import annotations

import glob
import os

import numpy as np
import tensorflow as tf


def split_files(examples_uri: str, split: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    if not files:
        raise FileNotFoundError(f"no examples for split {split!r} in {examples_uri}")
    return files


def read_split(examples_uri: str, split: str, limit: int | None = None
               ) -> list[dict[str, np.ndarray]]:
    """Each tf.Example of the split as {feature: values} (bytes, int64 or float32 arrays)."""
    dataset = tf.data.TFRecordDataset(split_files(examples_uri, split), compression_type="GZIP")
    if limit:
        dataset = dataset.take(limit)
    rows = []
    for record in dataset.as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        row = {}
        for name, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            values = getattr(feature, kind).value if kind else []
            dtype = {"bytes_list": object, "int64_list": np.int64,
                     "float_list": np.float32}.get(kind, object)
            row[name] = np.asarray(list(values), dtype=dtype)
        rows.append(row)
    return rows

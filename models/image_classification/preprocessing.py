"""TFX Transform module: decode, resize and normalise in graph; labels → ids through a
vocabulary in the labels' sorted order (label id i is the i-th label)."""
from __future__ import annotations

import os
import uuid
from typing import Any

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from models.features import one_per_example
from models.image_classification.features import (
    IMAGE_KEY,
    LABEL_KEY,
    LABEL_VOCABULARY,
    decode_and_resize,
)


def sort_labels(labels: list[str]) -> list[str]:
    """The class order: numeric when every label is an integer ('2' before '10'), otherwise
    the labels' byte order."""
    labels = sorted(set(labels))
    try:
        return sorted(labels, key=int)
    except ValueError:
        return labels


class _SortedVocabulary(tft_beam.experimental.PTransformAnalyzer):
    """The distinct labels of the whole dataset, sorted, written one a line to a vocabulary
    file (TFT's own vocabularies are ordered by frequency, so id 3 would not be label 3)."""

    def expand(self, batches):
        return (batches
                | "Labels" >> beam.FlatMap(lambda batch: {v.decode() if isinstance(v, bytes)
                                                         else str(v) for v in batch[0].ravel()})
                | "Distinct" >> beam.Distinct()
                | "ToList" >> beam.combiners.ToList()
                | "Write" >> beam.Map(self._write))

    def _write(self, labels: list[str]) -> bytes:
        directory = os.path.join(self.base_temp_dir, f"sorted_vocabulary_{uuid.uuid4().hex}")
        tf.io.gfile.makedirs(directory)
        path = os.path.join(directory, LABEL_VOCABULARY)
        with tf.io.gfile.GFile(path, "w") as f:
            f.write("".join(f"{label}\n" for label in sort_labels(labels)))
        return np.array(path.encode())


def sorted_vocabulary(labels: tf.Tensor) -> tf.Tensor:
    """The path of the sorted label vocabulary (an asset named LABEL_VOCABULARY)."""
    (path,) = tft.experimental.ptransform_analyzer(
        inputs=[labels], ptransform=_SortedVocabulary(), output_dtypes=[tf.string],
        output_shapes=[[]], output_asset_default_values=[b"?\n"], name="sorted_labels")
    tft.annotate_asset(LABEL_VOCABULARY, LABEL_VOCABULARY)
    return path


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """Raw {image: encoded bytes, label: string or int} → {image: [R, R, 3] float, label: id}."""
    images = decode_and_resize(one_per_example(inputs[IMAGE_KEY]), custom_config["resolution"])
    labels = one_per_example(inputs[LABEL_KEY])
    if labels.dtype != tf.string:
        labels = tf.strings.as_string(labels)
    label_ids = tft.apply_vocabulary(
        labels, deferred_vocab_filename_tensor=sorted_vocabulary(labels), default_value=-1)
    return {IMAGE_KEY: images, LABEL_KEY: label_ids}

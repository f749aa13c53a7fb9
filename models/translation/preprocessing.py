"""TFX Transform module: the shared wordpiece vocabulary, learned over the whole train split
with tensorflow-text's learner inside the Beam analysis, becomes a Transform asset
(`wordpieces.txt` in the transform graph). Sentences pass through as raw strings: the Trainer
and the served model tokenise them in graph with that vocabulary, so training and serving
share one tokeniser."""
from __future__ import annotations

import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam

from models.features import one_per_example

SOURCE_KEY, TARGET_KEY = "source", "target"
VOCABULARY_SIZE_KEY = "vocabulary_size"


class LearnWordpieces(tft_beam.experimental.PTransformAnalyzer):
    """Batches of (source, target) texts → the path of the learned vocabulary file."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        def texts(batch):
            for column in batch:
                for value in column.reshape(-1):
                    yield value.decode("utf-8") if isinstance(value, bytes) else str(value)

        def learn(all_texts):
            from models.translation.wordpieces import VOCABULARY_FILE, learn_vocabulary

            vocabulary = learn_vocabulary(all_texts, self.vocab_size)
            path = os.path.join(self.base_temp_dir, VOCABULARY_FILE)
            tf.io.gfile.makedirs(self.base_temp_dir)
            with tf.io.gfile.GFile(path, "w") as f:
                f.write("".join(token + "\n" for token in vocabulary))
            return path.encode()

        return (batches
                | "Texts" >> beam.FlatMap(texts)
                | "All" >> beam.combiners.ToList()
                | "Learn" >> beam.Map(learn))


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """{source, target} raw strings → the same strings; analysis writes the vocabulary."""
    source, target = one_per_example(inputs[SOURCE_KEY]), one_per_example(inputs[TARGET_KEY])
    vocabulary_path = tft.experimental.ptransform_analyzer(
        inputs=[source, target], ptransform=LearnWordpieces(custom_config["vocab_size"]),
        output_dtypes=[tf.string], output_shapes=[[]], output_asset_default_values=[b""],
        name="wordpieces")[0]
    # An output that reads the vocabulary keeps the analyzer (and so its asset) in the graph.
    size = tf.size(tf.strings.split(tf.io.read_file(vocabulary_path), "\n"), tf.int64) - 1
    return {SOURCE_KEY: source, TARGET_KEY: target,
            VOCABULARY_SIZE_KEY: tf.fill(tf.shape(source), size)}

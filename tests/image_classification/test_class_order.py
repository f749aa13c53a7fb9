"""Label ids follow the labels' sorted order (TFT's own vocabularies follow frequency), so
`probabilities[i]` is the i-th label and id 3 is digit 3."""
import io

import numpy as np
import pytest
from PIL import Image

from models.image_classification.preprocessing import sort_labels


def test_sort_labels_is_numeric_for_integers_and_bytewise_otherwise():
    assert sort_labels(["10", "2", "1", "2"]) == ["1", "2", "10"]
    assert sort_labels(["cat", "Dog", "ant", "10"]) == ["10", "Dog", "ant", "cat"]


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4), value, np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam

    from models.image_classification.preprocessing import preprocessing_fn

    # Frequency order would be 7, 3, 10, 1, 0; sorted order is 0, 1, 3, 7, 10.
    labels = ["7"] * 5 + ["3"] * 4 + ["10"] * 3 + ["1"] * 2 + ["0"]
    raw = [{"image": _png(i * 10), "label": label} for i, label in enumerate(labels)]
    metadata = tft.DatasetMetadata.from_feature_spec({
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.string)})
    root = tmp_path_factory.mktemp("transform")
    with tft_beam.Context(temp_dir=str(root / "tmp")):
        (data, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, {"resolution": 32}))
        _ = transform_fn | tft_beam.WriteTransformFn(str(root / "out"))
    return labels, data, str(root / "out")


def test_label_id_i_is_the_ith_label_in_sorted_order(transformed):
    import tensorflow_transform as tft

    from models.image_classification import mobile

    labels, data, output = transformed
    ordered = ["0", "1", "3", "7", "10"]
    assert mobile.labels(output) == ordered  # labels.txt and the signatures' label list
    vocabulary = tft.TFTransformOutput(output).vocabulary_by_name("labels")
    assert [v.decode() for v in vocabulary] == ordered
    ids = [int(np.reshape(row["label"], [-1])[0]) for row in data]
    assert ids == [ordered.index(label) for label in labels]
    assert data[0]["image"].shape[-3:] == (32, 32, 3)

"""The image-classification evaluation hook's arithmetic and its logistic-regression baseline,
on hand-made data (the hook on a real export runs in test_e2e.py)."""
import numpy as np
import pytest

from models.image_classification import evaluation


def test_accuracy_and_top_k_by_hand():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    labels = np.array([0, 2, 1, 1])
    assert evaluation.scores(probabilities, labels, top_k=2) == {
        "sparse_categorical_accuracy": 0.5, "top_2_accuracy": 0.75, "example_count": 4.0}


def test_logistic_regression_baseline_separates_separable_classes():
    rng = np.random.default_rng(0)
    # Three classes of 4×4 RGB "images": bright in a different channel each.
    labels = np.repeat([0, 1, 2], 20)
    images = rng.uniform(-1, -0.5, size=(60, 4, 4, 3))
    images[np.arange(60), :, :, labels] += 1.2
    train, held_out = np.arange(60) % 2 == 0, np.arange(60) % 2 == 1
    probabilities = evaluation.logistic_regression(images[train], labels[train],
                                                   images[held_out], num_classes=4)
    assert probabilities.shape == (30, 4) and np.all(probabilities[:, 3] == 0)
    assert evaluation.scores(probabilities, labels[held_out], 3)[
        "sparse_categorical_accuracy"] == 1.0


def test_baseline_input_is_pooled_to_at_most_32_pixels():
    assert evaluation.pooled(np.zeros([2, 64, 64, 3], np.float32)).shape == (2, 32 * 32 * 3)
    assert evaluation.pooled(np.ones([2, 8, 8, 3], np.float32)).shape == (2, 8 * 8 * 3)
    assert evaluation.pooled(np.ones([1, 64, 64, 1], np.float32)) == pytest.approx(1.0)


def test_a_limited_read_spreads_over_a_class_sorted_split(tmp_path):
    """The baseline's `max_baseline_examples` are every k-th example, not the first ones: on a
    split sorted by class, the first ones would all be one class."""
    import tensorflow as tf

    split = tmp_path / "Split-train"
    split.mkdir()
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for label in "abcd":
            for _ in range(250):
                feature = {"label": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[label.encode()]))}
                writer.write(tf.train.Example(features=tf.train.Features(
                    feature=feature)).SerializeToString())
    labels = [label for batch in evaluation._batches(str(tmp_path), "train", 100)
              for label in evaluation._raw_labels(batch)]
    assert labels == ["a"] * 25 + ["b"] * 25 + ["c"] * 25 + ["d"] * 25

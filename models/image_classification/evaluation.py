"""Evaluation hook of image classification for the shared FamilyEvaluator: accuracy and top-k
accuracy of the exported model on the raw eval split, per class (label slices), beside the
baseline a practitioner would try first, a logistic regression on the transformed pixels.

The export's own signatures do the work, so what is measured is what is served:
`transform_features` (raw tf.Examples → Transform's pixels and label id) and `from_examples`
(raw tf.Examples → class probabilities, in the label ids' order).

The baseline (scikit-learn's LogisticRegression, L2, lbfgs) is fitted on at most
`max_baseline_examples` (20,000) train images, spread evenly over the split (a user's records
may be sorted by class; see models/input_pipeline.py), on Transform's pixels
average-pooled to at most `BASELINE_PIXELS` per side (the bundled 32 px digits are used as they
are; a 299 px Inception input would be 268,203 features per image), and scored on the same eval
images as the model.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from models import input_pipeline
from models.evaluation_hook import HookResult
from models.examples import split_files
from pipelines.image_classification.settings import ACCURACY

IMAGE_KEY, LABEL_KEY = "image", "label"
BATCH = 256
MAX_BASELINE_EXAMPLES = 20000
BASELINE_PIXELS = 32


def _batches(examples_uri: str, split: str, limit: int | None):
    """The split's serialized examples in batches; with `limit`, about that many, every k-th
    of the split, so that a class-sorted split still gives every class."""
    files = split_files(examples_uri, split)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if limit:
        records, _ = input_pipeline.count_records(files)
        dataset = dataset.shard(max(1, records // limit), 0).take(limit)
    return dataset.batch(BATCH)


def _raw_labels(serialized: tf.Tensor) -> list[str]:
    parsed = tf.io.parse_example(serialized, {LABEL_KEY: tf.io.VarLenFeature(tf.string)})
    values = tf.sparse.to_dense(parsed[LABEL_KEY], default_value=b"").numpy()[:, 0]
    return [v.decode() for v in values]


def pooled_split(signatures: Any, examples_uri: str, split: str, limit: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(pooled pixels [n, ≤ BASELINE_PIXELS² × C], label ids [n]) of a split through the
    export's Transform, pooled batch by batch so that full-resolution images are never all
    held at once."""
    pixels, labels = [], []
    for batch in _batches(examples_uri, split, limit):
        features = signatures["transform_features"](examples=batch)
        pixels.append(pooled(features[IMAGE_KEY].numpy()))
        labels.append(features[LABEL_KEY].numpy().reshape(-1))
    return np.concatenate(pixels), np.concatenate(labels).astype(np.int64)


def top_k_accuracy(probabilities: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per example: the label is among the k most probable classes (ties: lower ids first)."""
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return np.any(top == labels[:, None], axis=1)


def scores(probabilities: np.ndarray, labels: np.ndarray, top_k: int) -> dict[str, float]:
    correct = np.argmax(probabilities, axis=1) == labels
    return {ACCURACY: float(np.mean(correct)),
            f"top_{top_k}_accuracy": float(np.mean(top_k_accuracy(probabilities, labels, top_k))),
            "example_count": float(len(labels))}


def pooled(images: np.ndarray, pixels: int = BASELINE_PIXELS) -> np.ndarray:
    """Images average-pooled to at most `pixels` per side, flattened: the baseline's input."""
    if images.shape[1] > pixels:
        images = tf.image.resize(images, [pixels, pixels], method="area").numpy()
    return images.reshape(len(images), -1)


def fit_logistic_regression(pixels: np.ndarray, labels: np.ndarray) -> Any:
    """The baseline classifier on pooled pixels."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(pixels, labels)


def class_probabilities(classifier: Any, pixels: np.ndarray, num_classes: int) -> np.ndarray:
    """The baseline's [n, num_classes] probabilities (0 for classes it never saw)."""
    probabilities = np.zeros([len(pixels), num_classes])
    probabilities[:, classifier.classes_] = classifier.predict_proba(pixels)
    return probabilities


def logistic_regression(train_images: np.ndarray, train_labels: np.ndarray,
                        eval_images: np.ndarray, num_classes: int) -> np.ndarray:
    """The baseline's class probabilities [n, num_classes] for the eval images (classes
    absent from the train images get probability 0)."""
    classifier = fit_logistic_regression(pooled(train_images), train_labels)
    return class_probabilities(classifier, pooled(eval_images), num_classes)


def evaluate(serving_model_dir: str, examples_uri: str, split: str,
             config: dict[str, Any]) -> HookResult:
    """Accuracy, top-k accuracy and example count overall and per raw label; the logistic
    regression's on the same images as the `logistic_regression` baseline. The eval split is
    read batch by batch (the model and the baseline score each batch), so memory does not
    grow with it beyond the per-example probabilities."""
    top_k = int(config.get("top_k", 3))
    signatures = tf.saved_model.load(serving_model_dir).signatures
    train_pixels, train_labels = pooled_split(
        signatures, examples_uri, "train",
        int(config.get("max_baseline_examples") or MAX_BASELINE_EXAMPLES))
    classifier = fit_logistic_regression(train_pixels, train_labels)
    del train_pixels
    probabilities, baseline, labels, raw_labels = [], [], [], []
    for batch in _batches(examples_uri, split, config.get("limit")):
        probabilities.append(signatures["from_examples"](examples=batch)["probabilities"].numpy())
        features = signatures["transform_features"](examples=batch)
        labels.append(features[LABEL_KEY].numpy().reshape(-1))
        baseline.append(class_probabilities(classifier, pooled(features[IMAGE_KEY].numpy()),
                                            probabilities[-1].shape[1]))
        raw_labels += _raw_labels(batch)
    probabilities, baseline = np.concatenate(probabilities), np.concatenate(baseline)
    labels = np.concatenate(labels).astype(np.int64)
    metrics = scores(probabilities, labels, top_k)
    raw = np.array(raw_labels)
    slices = {((LABEL_KEY, name),): scores(probabilities[raw == name], labels[raw == name], top_k)
              for name in sorted(set(raw_labels))}
    metrics_lr = scores(baseline, labels, top_k)
    metrics_lr["train_examples"] = float(len(train_labels))
    return HookResult(metrics, baselines={"logistic_regression": metrics_lr}, slices=slices)

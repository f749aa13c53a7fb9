"""The shared training recipe: augmentation in tf.data, learning-rate schedules, weight decay,
label smoothing."""
import math

import numpy as np
import pytest
import tensorflow as tf

from models.augment import Augmentation, augment_images, features_augmenter
from models.keras2 import keras
from models.training import build_optimizer, learning_rate_schedule, sparse_categorical_crossentropy


def _images(n=8, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (n, size, size, 3)), tf.float32)


def test_augmentation_keeps_shape_dtype_and_value_range():
    images = _images()
    out = augment_images(images, Augmentation(shift=0.2, rotation=20, zoom=0.2, flip=True))
    assert out.shape == images.shape and out.dtype == tf.float32
    # Bilinear sampling with edge repetition: each output pixel lies within its image's range.
    lo = tf.reduce_min(images, axis=[1, 2, 3], keepdims=True)
    hi = tf.reduce_max(images, axis=[1, 2, 3], keepdims=True)
    assert bool(tf.reduce_all(out >= lo - 1e-5)) and bool(tf.reduce_all(out <= hi + 1e-5))
    assert not np.allclose(out.numpy(), images.numpy())


def test_augmentation_of_nothing_is_the_identity_and_shift_moves_pixels():
    images = _images()
    same = augment_images(images, Augmentation(shift=0, rotation=0, zoom=0, flip=False))
    np.testing.assert_allclose(same.numpy(), images.numpy(), atol=1e-5)
    # A one-pixel dot moves with the shift but is never mirrored without --flip.
    dot = np.full((64, 9, 9, 1), -1.0, np.float32)
    dot[:, 4, 1] = 1.0
    out = augment_images(tf.constant(dot), Augmentation(shift=0.3, rotation=0, zoom=0)).numpy()
    columns = np.argmax(out.max(axis=(1, 3)), axis=1)
    assert len(set(columns)) > 1 and max(columns) <= 4  # never past the centre: no flip


def test_features_augmenter_changes_only_the_image_and_none_without_settings():
    assert Augmentation.from_config(None) is None
    assert Augmentation.from_config({"enabled": False, "shift": 0.1}) is None
    assert Augmentation.from_config({"shift": 0.2, "flip": True}) == Augmentation(
        shift=0.2, flip=True)
    assert features_augmenter(None, "image") is None
    augment = features_augmenter(Augmentation(), "image")
    label, other = tf.constant([1, 2]), tf.constant([[5.0], [6.0]])
    features, out_label = augment({"image": _images(2), "other": other}, label)
    assert out_label is label and features["other"] is other
    assert features["image"].shape == (2, 16, 16, 3)


def _rate(schedule, step):
    return float(schedule(step)) if callable(schedule) else schedule


def test_cosine_schedule_warms_up_to_the_peak_and_decays_to_zero():
    schedule = learning_rate_schedule(3e-3, "cosine", total_steps=1500, warmup_steps=100)
    assert _rate(schedule, 0) == 0.0
    assert _rate(schedule, 50) == pytest.approx(1.5e-3)
    assert _rate(schedule, 100) == pytest.approx(3e-3)
    assert _rate(schedule, 800) == pytest.approx(1.5e-3)  # half-way through the decay
    assert _rate(schedule, 1500) == pytest.approx(0.0, abs=1e-12)
    short = learning_rate_schedule(1e-3, "cosine", total_steps=40, warmup_steps=100)
    assert _rate(short, 20) == pytest.approx(1e-3)  # warm-up capped at half the steps
    no_warmup = learning_rate_schedule(1e-3, "cosine", total_steps=100)

    assert _rate(no_warmup, 0) == pytest.approx(1e-3)
    assert _rate(no_warmup, 100) == pytest.approx(0.0, abs=1e-12)


def test_step_and_constant_schedules():
    step = learning_rate_schedule(1e-2, "step", total_steps=1000)
    assert [_rate(step, s) for s in (0, 500, 501, 750, 751, 999)] == pytest.approx(
        [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4])
    assert learning_rate_schedule(1e-3, "constant", total_steps=10, warmup_steps=5) == 1e-3
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        learning_rate_schedule(1e-3, "linear", 10)


def test_weight_decay_builds_adamw_and_keeps_batch_norm_and_biases():
    assert type(build_optimizer({"learning_rate": 1e-3}, 10)) is keras.optimizers.Adam
    adamw = build_optimizer({"learning_rate": 1e-3, "weight_decay": 0.1,
                             "lr_schedule": "cosine", "warmup_steps": 2}, 10)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 0.1
    # One step with zero gradients: only the decayed kernel moves (by lr * wd * w).
    kernel, bias = tf.Variable([1.0, 2.0], name="kernel"), tf.Variable([1.0], name="bias")
    adamw.build([kernel, bias])
    adamw.iterations.assign(2)  # the warm-up's end: the peak rate
    adamw.apply_gradients([(tf.zeros(2), kernel), (tf.zeros(1), bias)])
    np.testing.assert_allclose(kernel.numpy(), [1.0 - 1e-4, 2.0 - 2e-4], rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), [1.0])


def test_label_smoothing_loss_equals_the_hand_computed_value():
    y_pred = tf.constant([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y_true = tf.constant([[0], [2]])
    eps = 0.1
    loss = sparse_categorical_crossentropy(eps)
    values = loss(y_true, y_pred).numpy()
    off, on = eps / 3, 1 - eps + eps / 3
    expected = [-(on * math.log(0.7) + off * math.log(0.2) + off * math.log(0.1)),
                -(off * math.log(0.1) + off * math.log(0.1) + on * math.log(0.8))]
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    assert sparse_categorical_crossentropy(0.0) == "sparse_categorical_crossentropy"
    plain = keras.losses.sparse_categorical_crossentropy(y_true, y_pred).numpy()
    np.testing.assert_allclose(sparse_categorical_crossentropy(1e-9)(y_true, y_pred), plain,
                               rtol=1e-5)

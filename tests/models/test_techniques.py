"""The trainer techniques every Trainer shares: Stochastic Weight Averaging (the mean of the
snapshots, batch-norm statistics recomputed), AdaBatch's schedule, and the rate under both."""
import math

import numpy as np
import pytest
import tensorflow as tf

from models import adabatch
from models.adabatch import Stage
from models.keras2 import keras
from models.swa import StochasticWeightAveraging, recompute_batch_norm
from models.training import (
    TechniqueRate,
    Techniques,
    build_optimizer,
    compile_options,
    fit_steps,
    precision_scope,
)


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


def _batches(n: int = 4, size: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.normal(loc=i, size=(size, 4)).astype("float32"),
             rng.integers(0, 2, size)) for i in range(n)]


def _dataset(batches) -> tf.data.Dataset:
    xs = np.concatenate([x for x, _ in batches])
    ys = np.concatenate([y for _, y in batches])
    return tf.data.Dataset.from_tensor_slices((xs, ys)).batch(len(batches[0][0])).repeat()


class _Record(keras.callbacks.Callback):
    """The trainable weights after every optimizer step."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: dict[int, list[np.ndarray]] = {}

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.weights[step] = [v.numpy().copy() for v in self.model.trainable_weights]


def test_swa_weights_are_the_mean_of_the_snapshots_and_batch_norm_is_recomputed():
    batches = _batches()
    model, record = _model(), _Record()
    swa = StochasticWeightAveraging(start=3, total=10, every=3,
                                    batch_norm_data=_dataset(batches), batch_norm_batches=4)
    model.fit(_dataset(batches), steps_per_epoch=10, epochs=1, verbose=0,
              callbacks=[record, swa])
    assert swa.snapshots == 4  # steps 3, 6, 9 and the last, 10
    expected = [np.mean([record.weights[s][i] for s in (3, 6, 9, 10)], axis=0)
                for i in range(len(model.trainable_weights))]
    for variable, mean in zip(model.trainable_weights, expected, strict=True):
        np.testing.assert_allclose(variable.numpy(), mean, rtol=1e-6, atol=1e-7)
    assert not np.allclose(model.trainable_weights[0].numpy(), record.weights[10][0])
    # Moving statistics: the plain mean over the 4 batches of each batch's statistics of the
    # batch-norm input under the averaged weights.
    kernel, bias = (model.get_layer("dense").kernel.numpy(),
                    model.get_layer("dense").bias.numpy())
    hidden = [x @ kernel + bias for x, _ in batches]
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(),
                               np.mean([h.mean(axis=0) for h in hidden], axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(),
                               np.mean([h.var(axis=0) for h in hidden], axis=0), rtol=1e-4)
    assert swa.recomputed_batches == 4 and bn.momentum == 0.99  # restored


def test_recompute_batch_norm_without_batch_norm_does_nothing():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert recompute_batch_norm(model, [np.zeros((2, 4), np.float32)]) == 0


def test_swa_start_outside_training_is_an_error():
    with pytest.raises(ValueError, match="SWA start step 11 is outside the 10 training steps"):
        StochasticWeightAveraging(start=11, total=10)


def test_adabatch_plan_doubles_the_batch_over_equal_shares_of_examples():
    assert adabatch.plan(1500, 64, 1) == [Stage(64, 1500, 1)]
    assert adabatch.plan(1500, 64, 2) == [Stage(64, 750, 1), Stage(128, 375, 2)]
    three = adabatch.plan(1500, 64, 3)
    assert three == [Stage(64, 500, 1), Stage(128, 250, 2), Stage(256, 125, 4)]
    assert sum(s.batch_size * s.steps for s in three) == 1500 * 64
    assert sum(s.steps for s in three) == 875
    # Shares that do not divide: the last stage takes the rest, within one of its batches.
    odd = adabatch.plan(1000, 32, 3)
    assert odd == [Stage(32, 333, 1), Stage(64, 167, 2), Stage(128, 83, 4)]
    assert sum(s.batch_size * s.steps for s in odd) == 31968  # 32,000 - 32
    with pytest.raises(ValueError, match="5 training steps are too few for 3 AdaBatch stages"):
        adabatch.plan(5, 32, 3)


def test_adabatch_dataset_and_optimizer_steps_follow_the_plan():
    stages = adabatch.plan(8, 4, 2)  # 4 steps of 4, then 2 of 8
    data = tf.data.Dataset.range(100).batch(4).repeat()
    sizes = [int(b.shape[0]) for b in adabatch.staged_dataset(data, stages).take(6)]
    assert sizes == [4, 4, 4, 4, 8, 8]
    assert [adabatch.optimizer_step_at(stages, b) for b in (0, 4, 5, 6, 8)] == [0, 4, 5, 5, 6]
    # Batches of sequences padded to their longest (translation): re-batched, padded again.
    sequences = tf.data.Dataset.range(1, 9).map(lambda n: tf.ones([n], tf.int64))
    padded = sequences.padded_batch(4).repeat()
    staged = list(adabatch.staged_dataset(padded, stages).take(6))
    assert [tuple(b.shape) for b in staged] == [(4, 4), (4, 8)] * 2 + [(8, 8)] * 2
    assert staged[4].numpy().sum() == 36  # 1 + 2 + ... + 8 ones, the rest padding


def test_technique_rate_scales_with_the_batch_and_holds_for_swa():
    base = keras.optimizers.schedules.CosineDecay(1.0, decay_steps=8)
    rate = TechniqueRate(base, [4, 2])  # AdaBatch: base steps 0-3, then 4, 6 (twice the batch)
    assert float(rate(3)) == pytest.approx(float(base(3)))
    assert float(rate(4)) == pytest.approx(float(base(4)) * math.sqrt(2))
    assert float(rate(5)) == pytest.approx(float(base(6)) * math.sqrt(2))
    held = TechniqueRate(base, [8], hold_from=6)  # SWA from 3/4: the rate of step 6 on
    assert [float(held(s)) for s in (5, 6, 7, 8)] == pytest.approx(
        [float(base(5))] + [float(base(6))] * 3)
    again = TechniqueRate.from_config(rate.get_config())
    assert float(again(5)) == pytest.approx(float(rate(5)))


def test_build_optimizer_without_techniques_keeps_keras_schedules():
    config = {"learning_rate": 1e-3, "lr_schedule": "cosine"}
    optimizer = build_optimizer(config, 100)
    assert type(optimizer._learning_rate).__name__ == "CosineDecay"
    swa = build_optimizer({**config, "swa_start": 0.75}, 100)
    assert isinstance(swa._learning_rate, TechniqueRate)
    assert swa._learning_rate.hold_from == 75
    with pytest.raises(ValueError, match=r"swa_start must be in \[0, 1\), got 1.0"):
        Techniques.from_config({"swa_start": 1.0})


def test_fit_steps_runs_the_techniques(tmp_path):
    config = {"batch_size": 8, "learning_rate": 0.1, "lr_schedule": "cosine",
              "swa_start": 0.5, "adabatch_stages": 2}
    model = _model()
    model.compile(build_optimizer(config, 12), "sparse_categorical_crossentropy")
    record = _Record()
    history = fit_steps(model, _dataset(_batches()), _dataset(_batches()), train_steps=12,
                        eval_steps=2, log_dir=str(tmp_path), backup_dir=None, epochs=3,
                        extra_callbacks=[record], config=config)
    # 6 steps of 8 and 3 of 16: 9 optimizer steps; SWA from base step 6 = optimizer step 6.
    assert int(model.optimizer.iterations.numpy()) == 9
    assert "swa_loss" in history.history
    expected = np.mean([record.weights[s][0] for s in (6, 7, 8, 9)], axis=0)
    np.testing.assert_allclose(model.trainable_weights[0].numpy(), expected, rtol=1e-6)


def test_jit_compile_trains_as_the_default_does():
    weights = []
    for jit in (False, True):
        model = _model()
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                      **compile_options({"jit_compile": jit}))
        assert model.jit_compile is jit
        model.fit(_dataset(_batches()), steps_per_epoch=6, epochs=1, verbose=0)
        weights.append(model.get_weights())
    for plain, xla in zip(*weights, strict=True):
        np.testing.assert_allclose(xla, plain, rtol=1e-4, atol=1e-5)


def test_precision_scope_builds_16_bit_layers_and_restores_the_policy():
    with precision_scope({"mixed_precision": "mixed_bfloat16"}):
        layer = keras.layers.Dense(2)
    assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16", "float32")
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="unknown mixed precision 'float8'"):
        Techniques.from_config({"mixed_precision": "float8"})

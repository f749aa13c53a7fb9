"""Stochastic Weight Averaging (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima
and Better Generalization"), as a Keras callback any Trainer's fit can use.

From a start step on, training keeps a constant rate (models/training.py holds the schedule
there) and the callback keeps the mean of the weights at evenly spaced steps. At the end the
model gets the averaged weights, and its batch-norm moving statistics, which belong to none of
the averaged models, are recomputed with one pass over training batches.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import tensorflow as tf

from models.keras2 import keras

# Weight snapshots averaged over the SWA phase (the paper averages once per epoch, a few tens).
SNAPSHOTS = 25
# Training batches the batch-norm statistics are recomputed on.
BATCH_NORM_BATCHES = 32


def _batch_norm_layers(model: keras.Model) -> list[keras.layers.Layer]:
    found = []
    for layer in model.submodules:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
    return found


def recompute_batch_norm(model: keras.Model, batches: Iterable) -> int:
    """Sets every batch-norm layer's moving mean and variance to the average, over `batches`,
    of the batch statistics the model's current weights produce (training-mode forward passes;
    the optimizer is not involved). An element of `batches` is the model's input or a tuple
    whose first item is. Returns the number of batches used (0: no batch norm, nothing done).

    Each pass sets momentum to (i - 1) / i, so after the i-th batch the moving statistic is
    the plain mean of the i batch statistics: no exponential decay, no dependence on the
    momentum the model trained with."""
    layers = _batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    count = 0
    try:
        for count, batch in enumerate(batches, start=1):
            inputs = batch[0] if isinstance(batch, tuple) else batch
            for layer in layers:
                layer.momentum = (count - 1) / count
            model(inputs, training=True)  # eager: each call reads the momentum just set
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return count


class StochasticWeightAveraging(keras.callbacks.Callback):
    """Averages the trainable weights at optimizer steps `start`, `start + every`, ... (and at
    the last step), then, when training ends, assigns the average and recomputes batch-norm
    statistics on `batch_norm_data` (a dataset of training batches; None: left as trained).

    The mean is accumulated in float64, so it equals the mean of the snapshots to float32
    rounding however many there are. Steps are the optimizer's, so a run resumed from a
    backup counts from where it stopped (the snapshots before the interruption are lost)."""

    def __init__(self, start: int, total: int, every: int | None = None,
                 batch_norm_data: tf.data.Dataset | None = None,
                 batch_norm_batches: int = BATCH_NORM_BATCHES) -> None:
        super().__init__()
        if not 0 <= start <= total:
            raise ValueError(f"SWA start step {start} is outside the {total} training steps")
        self.start, self.total = start, total
        self.every = every or max(1, (total - start) // SNAPSHOTS)
        self.batch_norm_data = batch_norm_data
        self.batch_norm_batches = batch_norm_batches
        self.sums: list[np.ndarray] | None = None
        self.snapshots = 0
        self.recomputed_batches = 0

    def _due(self, step: int) -> bool:
        return step >= self.start and ((step - self.start) % self.every == 0
                                       or step == self.total)

    def _snapshot(self) -> None:
        values = [np.asarray(v.numpy(), np.float64) for v in self.model.trainable_weights]
        if self.sums is None:
            self.sums = values
        else:
            self.sums = [s + v for s, v in zip(self.sums, values, strict=True)]
        self.snapshots += 1

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if self._due(step):
            self._snapshot()

    def averaged(self) -> list[np.ndarray]:
        """The mean of the snapshots, in the weights' own dtypes."""
        if not self.sums:
            raise ValueError("SWA took no snapshot: training ended before its start step")
        return [(s / self.snapshots).astype(v.dtype.as_numpy_dtype)
                for s, v in zip(self.sums, self.model.trainable_weights, strict=True)]

    def on_train_end(self, logs: dict | None = None) -> None:
        if not self.snapshots:
            return
        for variable, value in zip(self.model.trainable_weights, self.averaged(), strict=True):
            variable.assign(value)
        if self.batch_norm_data is not None:
            self.recomputed_batches = recompute_batch_norm(
                self.model, self.batch_norm_data.take(self.batch_norm_batches))
        statistics = (f"batch-norm statistics from {self.recomputed_batches} batches"
                      if self.recomputed_batches else "no batch-norm statistics to recompute")
        print(f"    SWA: averaged {self.snapshots} snapshots from step {self.start} (every "
              f"{self.every}); {statistics}", flush=True)

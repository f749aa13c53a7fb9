"""Training helpers every family's Trainer module shares: progress output, resumable fit, the
training recipe (learning-rate schedule, weight decay, label smoothing)."""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from models import input_pipeline
from models.keras2 import keras
from models.schedules import LR_SCHEDULES


class StepProgress(keras.callbacks.Callback):
    """Prints one readable line every `every` steps and at the end of each evaluation."""

    def __init__(self, total_steps: int, every: int) -> None:
        super().__init__()
        self.total_steps = total_steps
        self.every = max(1, every)
        self.step = 0
        self.start = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        if self.step % self.every and self.step != self.total_steps:
            return
        logs = logs or {}
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in logs.items())
        rate = self.step / max(time.monotonic() - self.start, 1e-9)
        print(f"    step {self.step:>6}/{self.total_steps}  {metrics}  ({rate:.1f} steps/s)",
              flush=True)

    def on_test_end(self, logs: dict | None = None) -> None:
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        print(f"    eval  {metrics}", flush=True)


def backup_dir_for(root: str, *identity: Any) -> str:
    """A backup directory under `root` private to one training set-up (config, data, steps),
    so that a run never resumes from the backup of a different model or dataset."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    return os.path.join(root, digest.hexdigest()[:16])


def fit_steps(model: keras.Model, train_ds, eval_ds, train_steps: int, eval_steps: int,
              log_dir: str, backup_dir: str | None, epochs: int = 1,
              extra_callbacks: list | None = None) -> keras.callbacks.History:
    """Fits for exactly `train_steps` steps in `epochs` chunks, evaluating after each.

    TensorBoard logs go to `log_dir`. With `backup_dir`, an interrupted fit resumes from its
    last finished epoch (Keras' BackupAndRestore deletes the backup once the fit completes).
    """
    epochs = max(1, min(epochs, train_steps))
    steps_per_epoch = max(1, train_steps // epochs)
    total = steps_per_epoch * epochs
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=max(1, steps_per_epoch // 4)),
        StepProgress(total, every=max(1, total // 10))]
    if backup_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(backup_dir))
    callbacks += extra_callbacks or []
    return model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                     validation_data=eval_ds, validation_steps=eval_steps,
                     callbacks=callbacks, verbose=0)


# Step decay: the rate is divided by 10 at these fractions of the training steps.
STEP_DECAY_AT = (0.5, 0.75)
STEP_DECAY_FACTOR = 0.1


def learning_rate_schedule(peak: float, schedule: str, total_steps: int,
                           warmup_steps: int = 0) -> Any:
    """The learning rate of `schedule` over `total_steps` optimizer steps.

    constant: `peak` throughout. cosine: linear warm-up from 0 to `peak` over `warmup_steps`
    (at most half the steps), then a cosine decay to 0 at `total_steps`. step: `peak`, divided
    by 10 at half and at three quarters of the steps. A float or Keras' own schedules, so a
    saved optimizer needs no Shipyard code to load.
    """
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        # At most half the steps, so that a short run (a test, a screening) still decays.
        warmup_steps = min(max(0, warmup_steps), total_steps // 2)
        return keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else peak, decay_steps=max(1, total_steps - warmup_steps),
            alpha=0.0, warmup_target=peak if warmup_steps else None,
            warmup_steps=warmup_steps)
    if schedule == "step":
        boundaries = [max(1, int(total_steps * at)) for at in STEP_DECAY_AT]
        values = [peak * STEP_DECAY_FACTOR ** i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose one of "
                     f"{', '.join(LR_SCHEDULES)}")


# Not decayed: batch-norm scales and offsets, biases (decaying them only hurts).
NO_WEIGHT_DECAY = ("bias", "gamma", "beta")


def build_optimizer(config: dict[str, Any], total_steps: int) -> keras.optimizers.Optimizer:
    """Adam, or AdamW (decoupled weight decay, Loshchilov & Hutter 2019) with a positive
    `weight_decay`, on the learning-rate schedule of a Trainer's custom config:
    `learning_rate` (the peak), `lr_schedule`, `warmup_steps`. Build it under the
    distribution strategy's scope."""
    rate = learning_rate_schedule(config.get("learning_rate", 1e-3),
                                  config.get("lr_schedule", "constant"), total_steps,
                                  config.get("warmup_steps", 0))
    weight_decay = config.get("weight_decay", 0.0) or 0.0
    if weight_decay <= 0:
        return keras.optimizers.Adam(rate)
    optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return optimizer


def sparse_categorical_crossentropy(label_smoothing: float = 0.0) -> Any:
    """Cross-entropy of probabilities against integer labels, with label smoothing (Szegedy
    et al. 2016): the target puts 1 - ε + ε/K on the label and ε/K on each of the K classes.
    Keras 2's sparse loss has no smoothing; with ε > 0 this one-hot encodes the labels."""
    if not label_smoothing:
        return "sparse_categorical_crossentropy"

    def sparse_categorical_crossentropy_smoothed(y_true: tf.Tensor, y_pred: tf.Tensor):
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        one_hot = tf.one_hot(labels, tf.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred,
                                                     label_smoothing=label_smoothing)

    return sparse_categorical_crossentropy_smoothed


def transformed_dataset(fn_args: Any, files: list[str], tft_output: Any, label_key: str,
                        batch_size: int, shuffle: bool,
                        batch_map: Callable | None = None,
                        sample: int | None = None) -> tf.data.Dataset:
    """Transform output as (features, label) batches, repeated forever: parsed once and cached
    in memory when it fits the input-cache budget (`input_cache_mb` of the custom config),
    else streamed from disk (models/input_pipeline.py). Training batches are reshuffled
    every epoch. For evaluation (not `shuffle`), `sample` examples spread over the whole
    split, the same at every evaluation (the first ones may all be of one class). `batch_map`
    (e.g. augmentation, for the training split only) runs on every batch after the cache, so
    each epoch draws anew."""
    config = fn_args.custom_config or {}
    plan = input_pipeline.plan_input(
        input_pipeline.expand(files), config.get("input_cache_mb"),
        bytes_per_record=input_pipeline.feature_spec_bytes(
            tft_output.transformed_feature_spec()))
    print(plan.describe("train" if shuffle else "eval", None if shuffle else sample),
          flush=True)
    dataset = input_pipeline.tfxio_dataset(
        fn_args.data_accessor.tf_dataset_factory, files,
        tft_output.transformed_metadata.schema, plan, batch_size, label_key, shuffle,
        seed=config.get("seed", 0), sample=sample)
    if batch_map is not None:
        dataset = dataset.map(batch_map, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def use_logical_cpu_devices(count: int) -> None:
    """Splits the host CPU into `count` logical devices, so that MirroredStrategy can mirror
    over them on a machine without accelerators. Must run before TensorFlow starts its
    runtime (the first op or device query)."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise


def distribution_strategy(name: str = "one_device", tpu: str | None = None
                          ) -> tf.distribute.Strategy:
    """The tf.distribute strategy a Trainer builds and fits its model under.

    one_device: TensorFlow's default placement (the first GPU, else the CPU).
    mirrored: every local GPU, else every logical CPU device (see use_logical_cpu_devices).
    multi_worker: MultiWorkerMirroredStrategy over the cluster that TF_CONFIG describes.
    tpu: TPUStrategy on `tpu` (a name or grpc://
    address; the environment's TPU when None).
    """
    if name == "one_device":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown distribution strategy {name!r}")

"""Training helpers every family's Trainer module shares: progress output, resumable fit."""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import tensorflow as tf

from models.keras2 import keras


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


def transformed_dataset(fn_args: Any, files: list[str], tft_output: Any, label_key: str,
                        batch_size: int, shuffle: bool) -> tf.data.Dataset:
    """Transform output as (features, label) batches: parsed once and cached in memory
    (parsing dominated the step time), reshuffled every epoch, repeated forever."""
    from tfx_bsl.public import tfxio

    options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label_key,
                                             shuffle=False, num_epochs=1)
    dataset = fn_args.data_accessor.tf_dataset_factory(
        files, options, tft_output.transformed_metadata.schema).unbatch().cache()
    if shuffle:
        dataset = dataset.shuffle(4096, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).repeat().prefetch(tf.data.AUTOTUNE)


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

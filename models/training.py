"""Training helpers every family's Trainer module shares: progress output, resumable fit."""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import time

import tf_keras as keras


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

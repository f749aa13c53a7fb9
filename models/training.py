"""Training helpers every family's Trainer module shares: progress output, resumable fit, the
training recipe (learning-rate schedule, weight decay, label smoothing) and the trainer
techniques every Trainer takes (Stochastic Weight Averaging, AdaBatch, mixed precision, XLA)."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import tensorflow as tf

from models import adabatch, input_pipeline
from models.keras2 import keras
from models.schedules import LR_SCHEDULES, PRECISIONS
from models.swa import StochasticWeightAveraging


@dataclasses.dataclass(frozen=True)
class Techniques:
    """The trainer techniques of a Trainer's custom config, shared by every family.

    swa_start: fraction of training after which Stochastic Weight Averaging holds the rate
      constant and averages the weights (models/swa.py); 0: off.
    adabatch_stages: AdaBatch stages, the batch doubling at each (models/adabatch.py); 1: off.
    mixed_precision: Keras' global dtype policy while the model is built ("off": float32).
    jit_compile: XLA-compile the training step.
    """

    swa_start: float = 0.0
    adabatch_stages: int = 1
    mixed_precision: str = "off"
    jit_compile: bool = False

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Techniques:
        config = config or {}
        techniques = cls(swa_start=float(config.get("swa_start") or 0.0),
                         adabatch_stages=int(config.get("adabatch_stages") or 1),
                         mixed_precision=config.get("mixed_precision") or "off",
                         jit_compile=bool(config.get("jit_compile")))
        if not 0 <= techniques.swa_start < 1:
            raise ValueError(f"swa_start must be in [0, 1), got {techniques.swa_start}")
        if techniques.mixed_precision not in PRECISIONS:
            raise ValueError(f"unknown mixed precision {techniques.mixed_precision!r}; choose "
                             f"one of {', '.join(PRECISIONS)}")
        return techniques

    def stages(self, train_steps: int, batch_size: int) -> list[adabatch.Stage]:
        return adabatch.plan(train_steps, batch_size, self.adabatch_stages)

    def swa_base_step(self, train_steps: int) -> int | None:
        """The step (of the configured batch) SWA starts at, or None without SWA."""
        return round(self.swa_start * train_steps) if self.swa_start > 0 else None


@contextlib.contextmanager
def precision_scope(config: dict[str, Any] | None) -> Iterator[None]:
    """Builds models inside under the configured Keras dtype policy (mixed_float16 for GPUs,
    mixed_bfloat16 for TPUs and recent CPUs): layers compute in 16 bits, variables stay
    float32. The global policy is restored on leaving, so nothing else in the process (TFX
    runs components in one process) inherits it. Builders keep their output layer float32."""
    policy = Techniques.from_config(config).mixed_precision
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32" if policy == "off" else policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_model(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """`model` itself when it computes in float32; else a float32 twin from `build` (same
    architecture, default policy) holding its weights (mixed-precision variables are float32
    already), for export."""
    if model.dtype_policy.name == "float32":
        return model
    twin = build()
    twin.set_weights(model.get_weights())
    return twin


def compile_options(config: dict[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments of `Model.compile` the techniques set (XLA's jit_compile)."""
    return {"jit_compile": Techniques.from_config(config).jit_compile}


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
              extra_callbacks: list | None = None,
              config: dict[str, Any] | None = None) -> keras.callbacks.History:
    """Fits for exactly `train_steps` steps in `epochs` chunks, evaluating after each.

    TensorBoard logs go to `log_dir`. With `backup_dir`, an interrupted fit resumes from its
    last finished epoch (Keras' BackupAndRestore deletes the backup once the fit completes).

    `config` (the Trainer's custom config) brings the techniques: with AdaBatch the batches of
    `train_ds` (of config["batch_size"]) grow stage by stage and the run takes the plan's
    fewer steps; with SWA the model ends with the averaged weights, evaluated once more. The
    optimizer must come from build_optimizer with the same config, so its rate follows.
    """
    techniques = Techniques.from_config(config)
    batch_size = (config or {}).get("batch_size")
    if techniques.adabatch_stages > 1 and not batch_size:
        raise ValueError("AdaBatch needs the batch size of train_ds as config['batch_size']")
    stages = techniques.stages(train_steps, batch_size or 1)
    swa_base_step = techniques.swa_base_step(train_steps)
    if len(stages) > 1:
        train_ds = adabatch.staged_dataset(train_ds, stages)
        train_steps = sum(stage.steps for stage in stages)
        print("    AdaBatch: " + ", ".join(f"{s.steps} steps of batch {s.batch_size}"
                                           for s in stages), flush=True)
    epochs = max(1, min(epochs, train_steps))
    steps_per_epoch = max(1, train_steps // epochs)
    total = steps_per_epoch * epochs
    swa = None
    if swa_base_step is not None:
        start = min(total, max(1, adabatch.optimizer_step_at(stages, swa_base_step)))
        swa = StochasticWeightAveraging(start, total, batch_norm_data=train_ds)
    callbacks = [
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=max(1, steps_per_epoch // 4)),
        StepProgress(total, every=max(1, total // 10))]
    if backup_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(backup_dir))
    callbacks += extra_callbacks or []
    if swa is not None:
        callbacks.append(swa)
    history = model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=eval_ds, validation_steps=eval_steps,
                        callbacks=callbacks, verbose=0)
    if swa is not None and eval_ds is not None:
        logs = model.evaluate(eval_ds, steps=eval_steps, verbose=0, return_dict=True)
        history.history.update({f"swa_{k}": [v] for k, v in logs.items()})
        print("    eval (SWA)  " + "  ".join(f"{k} {v:.4f}" for k, v in logs.items()),
              flush=True)
    return history


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


@keras.utils.register_keras_serializable(package="shipyard")
class TechniqueRate(keras.optimizers.schedules.LearningRateSchedule):
    """A run's learning rate (`base`: a float or schedule over steps of the configured batch)
    under the techniques: AdaBatch's stages (optimizer steps per stage, each taking 2^k
    batches' worth of examples, the rate × 2^(k · rate_power)) and SWA's constant rate from
    `hold_from` (a step of the configured batch) on."""

    def __init__(self, base: Any, stage_steps: list[int], hold_from: int | None = None,
                 rate_power: float = adabatch.RATE_POWER) -> None:
        super().__init__()
        self.base, self.stage_steps = base, list(stage_steps)
        self.hold_from, self.rate_power = hold_from, rate_power

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        factors = [2.0 ** k for k in range(len(self.stage_steps))]
        starts, base_starts = [0.0], [0.0]
        for steps, factor in zip(self.stage_steps[:-1], factors, strict=False):
            starts.append(starts[-1] + steps)
            base_starts.append(base_starts[-1] + steps * factor)
        stage = tf.reduce_sum(tf.cast(step >= tf.constant(starts[1:] or [float("inf")]),
                                      tf.int32))
        factor = tf.gather(tf.constant(factors), stage)
        position = (tf.gather(tf.constant(base_starts), stage)
                    + (step - tf.gather(tf.constant(starts), stage)) * factor)
        if self.hold_from is not None:
            position = tf.minimum(position, float(self.hold_from))
        rate = self.base(position) if callable(self.base) else tf.constant(self.base)
        return tf.cast(rate, tf.float32) * factor ** self.rate_power

    def get_config(self) -> dict[str, Any]:
        base = (keras.optimizers.schedules.serialize(self.base) if callable(self.base)
                else self.base)
        return {"base": base, "stage_steps": self.stage_steps, "hold_from": self.hold_from,
                "rate_power": self.rate_power}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TechniqueRate:
        config = dict(config)
        if isinstance(config["base"], dict):
            config["base"] = keras.optimizers.schedules.deserialize(config["base"])
        return cls(**config)


def technique_rate(rate: Any, config: dict[str, Any] | None, total_steps: int) -> Any:
    """`rate` (over `total_steps` steps of the configured batch) under the config's techniques
    (AdaBatch stages, SWA's constant phase); `rate` itself when neither is on, so a plain run
    saves only Keras' own objects."""
    techniques = Techniques.from_config(config)
    stages = techniques.stages(total_steps, 1)
    hold_from = techniques.swa_base_step(total_steps)
    if len(stages) == 1 and hold_from is None:
        return rate
    return TechniqueRate(rate, [s.steps for s in stages], hold_from)


def build_optimizer(config: dict[str, Any], total_steps: int, **adam: Any
                    ) -> keras.optimizers.Optimizer:
    """Adam, or AdamW (decoupled weight decay, Loshchilov & Hutter 2019) with a positive
    `weight_decay`, on the learning-rate schedule of a Trainer's custom config:
    `learning_rate` (the peak), `lr_schedule`, `warmup_steps`, under the techniques (AdaBatch,
    SWA: technique_rate). `adam`: further optimizer arguments (e.g. clipnorm). Build it under
    the distribution strategy's scope."""
    rate = learning_rate_schedule(config.get("learning_rate", 1e-3),
                                  config.get("lr_schedule", "constant"), total_steps,
                                  config.get("warmup_steps", 0))
    rate = technique_rate(rate, config, total_steps)
    weight_decay = config.get("weight_decay", 0.0) or 0.0
    if weight_decay <= 0:
        return keras.optimizers.Adam(rate, **adam)
    optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay, **adam)
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


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this worker writes the Trainer's outputs: always, except on the non-chief
    workers of a multi-worker cluster."""
    return strategy.extended.should_checkpoint


@contextlib.contextmanager
def chief_writes(directory: str, strategy: tf.distribute.Strategy) -> Iterator[str]:
    """Where this worker writes what belongs under `directory` (a Trainer's model artifact):
    `directory` on the chief (and in single-worker training); on the other workers of a
    MultiWorkerMirroredStrategy cluster, a private temporary directory, deleted afterwards.

    Every worker must still run the saves, as TensorFlow's multi-worker Keras guide says:
    saving reads the mirrored variables with collective operations all workers take part in.
    Keras' TensorBoard and BackupAndRestore callbacks do the same for the logs and backups.
    """
    if is_chief(strategy):
        yield directory
        return
    scratch = tempfile.mkdtemp(prefix=f"shipyard-worker-{strategy.cluster_resolver.task_id}-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

"""Model optimisation with the TensorFlow Model Optimization Toolkit (TFMO) on tf_keras models.

Each technique takes a trained Keras 2 model and a training dataset, fine-tunes for a few
steps, and returns a plain Keras model ready for the TFLite converter (pruning and clustering
wrappers stripped; QAT models keep their fake-quant layers, which the converter folds into int8).
`plan()` turns the variants a pipeline asks for into what applies to a given model, with one
clear line for each fallback (QAT does not support LSTM / GRU layers).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from models.keras2 import keras
from models.variants import VARIANTS

QAT_TECHNIQUES = {"qat", "pqat", "cqat"}
RECURRENT_LAYERS = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN,
                    keras.layers.RNN, keras.layers.Bidirectional)


@dataclasses.dataclass(frozen=True)
class FineTune:
    """How the TFMO techniques fine-tune: steps, batch size, learning rate and targets."""

    steps: int = 200
    learning_rate: float = 1e-4
    sparsity: float = 0.5
    clusters: int = 16


@dataclasses.dataclass(frozen=True)
class PlannedVariant:
    name: str  # what the converter writes, e.g. "qat_int8"
    technique: str  # none, qat, prune, cluster, pqat, cqat
    conversion: str  # float32, float16, dynamic, int8, qat


def recurrent_layers(model: keras.Model) -> list[str]:
    """Names of the LSTM / GRU / RNN layers of a model (recursing into nested models), and of
    custom layers that declare `is_recurrent = True` (a cell whose state the caller carries,
    such as the codec's ConvGRU)."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += recurrent_layers(layer)
        elif isinstance(layer, RECURRENT_LAYERS) or getattr(layer, "is_recurrent", False):
            names.append(layer.name)
    return names


def plan(model: keras.Model, variants: list[str], conversions: Sequence[str] | None = None
         ) -> tuple[list[PlannedVariant], list[str]]:
    """The variants that apply to `model`, and one message per variant that was replaced.

    QAT (and the collaborative pruning / cluster-preserving QAT) is unsupported by TFMO on
    recurrent layers: those variants fall back to dynamic-range quantization, which needs no
    quantized kernels for the recurrent ops. So does a variant whose TFLite conversion the
    family's converter does not offer (`conversions`, a hook's CONVERSIONS; None = all), such
    as full-integer int8 for a beam-search decoder.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(VARIANTS)}")
    rnn = recurrent_layers(model)
    planned: list[PlannedVariant] = []
    messages: list[str] = []
    for name in variants:
        technique, conversion = VARIANTS[name]
        if technique in QAT_TECHNIQUES and rnn:
            messages.append(f"{name}: QAT does not apply to LSTM/GRU models (TFMO has no 8-bit "
                            f"scheme for layer {rnn[0]!r}); using dynamic-range quantization")
            name, technique, conversion = "dynamic", "none", "dynamic"
        elif conversions is not None and conversion not in conversions:
            messages.append(f"{name}: this model converts to {', '.join(conversions)} only, "
                            f"not {conversion}; using dynamic-range quantization")
            name, technique, conversion = "dynamic", "none", "dynamic"
        if name not in {p.name for p in planned}:
            planned.append(PlannedVariant(name, technique, conversion))
    return planned, messages


def _clone(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _fit(model: keras.Model, train_ds: tf.data.Dataset, steps: int, learning_rate: float,
         callbacks: list | None = None) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    if steps > 0:
        model.fit(train_ds.repeat(), steps_per_epoch=steps, epochs=1, verbose=0,
                  callbacks=callbacks or [])
    return model


def quantization_aware(model: keras.Model, train_ds: tf.data.Dataset,
                       config: FineTune) -> keras.Model:
    """QAT: fake-quantize weights and activations, then fine-tune (a freshly wrapped model
    scores near chance until it is fine-tuned)."""
    qat = tfmot.quantization.keras.quantize_model(_clone(model))
    return _fit(qat, train_ds, config.steps, config.learning_rate)


def _prune_wrapped(model: keras.Model, train_ds: tf.data.Dataset,
                   config: FineTune) -> keras.Model:
    # Polynomial schedule from 0 to the target over the first 3/4 of the steps, so that the
    # last quarter fine-tunes at the final sparsity.
    end = max(1, int(config.steps * 0.75))
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=config.sparsity, begin_step=0, end_step=end,
        frequency=max(1, end // 10))
    pruned = tfmot.sparsity.keras.prune_low_magnitude(_clone(model), pruning_schedule=schedule)
    # UpdatePruningStep advances the schedule; without it the masks never change.
    return _fit(pruned, train_ds, max(config.steps, 1), config.learning_rate,
                callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])


def prune(model: keras.Model, train_ds: tf.data.Dataset, config: FineTune) -> keras.Model:
    """Magnitude pruning to `config.sparsity` (polynomial schedule), stripped for export."""
    return tfmot.sparsity.keras.strip_pruning(_prune_wrapped(model, train_ds, config))


def _cluster_wrapped(model: keras.Model, train_ds: tf.data.Dataset,
                     config: FineTune) -> keras.Model:
    clustered = tfmot.clustering.keras.cluster_weights(
        _clone(model), number_of_clusters=config.clusters,
        cluster_centroids_init=tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS)
    return _fit(clustered, train_ds, config.steps, config.learning_rate)


def cluster(model: keras.Model, train_ds: tf.data.Dataset, config: FineTune) -> keras.Model:
    """Weight clustering: every clustered kernel holds at most `config.clusters` values."""
    return tfmot.clustering.keras.strip_clustering(_cluster_wrapped(model, train_ds, config))


def pruning_preserving_qat(model: keras.Model, train_ds: tf.data.Dataset,
                           config: FineTune) -> keras.Model:
    """PQAT: prune, strip, then QAT with a scheme that keeps the zeros at zero."""
    pruned = prune(model, train_ds, config)
    annotated = tfmot.quantization.keras.quantize_annotate_model(pruned)
    qat = tfmot.quantization.keras.quantize_apply(
        annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
    return _fit(qat, train_ds, config.steps, config.learning_rate)


def cluster_preserving_qat(model: keras.Model, train_ds: tf.data.Dataset,
                           config: FineTune) -> keras.Model:
    """CQAT: cluster, strip, then QAT with a scheme that keeps the weights on the centroids."""
    clustered = cluster(model, train_ds, config)
    annotated = tfmot.quantization.keras.quantize_annotate_model(clustered)
    qat = tfmot.quantization.keras.quantize_apply(
        annotated, tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(
            preserve_sparsity=False))
    return _fit(qat, train_ds, config.steps, config.learning_rate)


TECHNIQUES = {"qat": quantization_aware, "prune": prune, "cluster": cluster,
              "pqat": pruning_preserving_qat, "cqat": cluster_preserving_qat}


def optimize(model: keras.Model, technique: str, train_ds: tf.data.Dataset | None,
             config: FineTune) -> keras.Model:
    """Applies one technique ("none" returns the model itself)."""
    if technique == "none":
        return model
    if train_ds is None:
        raise ValueError(f"{technique} needs training data to fine-tune")
    return TECHNIQUES[technique](model, train_ds, config)


def kernel_sparsity(model: keras.Model) -> float:
    """Fraction of zeros over the conv / dense kernels (depthwise included)."""
    zeros = total = 0
    for weight in model.weights:
        if "kernel" in weight.name and len(weight.shape) > 1:
            values = weight.numpy()
            zeros += int(np.sum(values == 0))
            total += values.size
    return zeros / max(total, 1)

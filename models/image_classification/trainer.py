"""TFX Trainer module: MobileNet v1 / Inception v3 on the Transform output, exported with
signatures that take raw encoded images (serving_default) or tf.Examples (classify)."""
from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from models.artifacts import KERAS_DIR
from models.augment import Augmentation, features_augmenter
from models.image_classification import classifiers
from models.image_classification.features import IMAGE_KEY, LABEL_KEY, LABEL_VOCABULARY
from models.keras2 import keras
from models.training import (
    backup_dir_for,
    build_optimizer,
    chief_writes,
    compile_options,
    distribution_strategy,
    fit_steps,
    float32_model,
    precision_scope,
    sparse_categorical_crossentropy,
    transformed_dataset,
)
from serving.core.warmup import write_predict_warmup

EVAL_BATCHES_MAX = 50
METRICS = ["sparse_categorical_accuracy"]


def build_model(config: dict[str, Any], num_classes: int, train_steps: int = 1) -> keras.Model:
    """The configured classifier, compiled with the training recipe (optimizer, learning-rate
    schedule over `train_steps`, label smoothing) and techniques (the dtype policy of
    `mixed_precision`, XLA's `jit_compile`)."""
    with precision_scope(config):
        model = classifiers.build(
            config["model"], resolution=config["resolution"], alpha=config.get("alpha", 1.0),
            depth_multiplier=config.get("depth_multiplier", 1),
            dropout=config.get("dropout", 1e-3), classes=num_classes)
    # Keras' 0.99 batch-norm momentum needs thousands of steps before the moving statistics
    # used at inference are usable; short runs on small data need a faster average.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = config.get("batch_norm_momentum", 0.9)
    if config.get("weights_file"):
        model.load_weights(config["weights_file"], by_name=True, skip_mismatch=True)
    model.compile(optimizer=build_optimizer(config, train_steps),
                  loss=sparse_categorical_crossentropy(config.get("label_smoothing", 0.0)),
                  metrics=METRICS, **compile_options(config))
    return model


def compile_for_export(model: keras.Model) -> None:
    """Re-compiles the trained model with Keras' built-in Adam and plain cross-entropy, so the
    saved models' training config names no Shipyard function: TFMA and the mobile components
    load them with plain Keras, and the evaluation loss is the unsmoothed one."""
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                  metrics=METRICS)


def _signatures(model: keras.Model, tft_output: tft.TFTransformOutput, labels: list[str],
                top_k: int) -> dict[str, Any]:
    model.tft_layer = tft_output.transform_features_layer()
    label_table = tf.constant(labels)
    top_k = min(top_k, len(labels))
    raw_spec = tft_output.raw_feature_spec()
    raw_spec.pop(LABEL_KEY, None)

    def predict_images(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        features = model.tft_layer({IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})
        return {"probabilities": model(features[IMAGE_KEY], training=False)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_images(image_bytes):
        probabilities = predict_images(image_bytes)["probabilities"]
        scores, ids = tf.math.top_k(probabilities, k=top_k)
        batch = tf.shape(probabilities)[0]
        # `classes[i][j]` names `probabilities[i][j]`: a client maps indices without the assets.
        return {"probabilities": probabilities, "top_k_ids": ids, "top_k_scores": scores,
                "top_k_labels": tf.gather(label_table, ids),
                "classes": tf.tile(label_table[tf.newaxis], [batch, 1])}

    def parse(serialized):
        features = tf.io.parse_example(serialized, raw_spec)
        return tf.reshape(features[IMAGE_KEY], [-1])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(serialized):
        probabilities = predict_images(parse(serialized))["probabilities"]
        batch = tf.shape(probabilities)[0]
        return {"classes": tf.tile(label_table[tf.newaxis], [batch, 1]), "scores": probabilities}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def from_examples(serialized):
        return predict_images(parse(serialized))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        features = tf.io.parse_example(serialized, tft_output.raw_feature_spec())
        return model.tft_layer(features)

    return {"serving_default": serve_images, "classify": classify,
            "from_examples": from_examples, "transform_features": transform_features}


def _warmup_image(resolution: int) -> bytes:
    """A mid-grey PNG of the model's input size: warm-up needs a valid request, not real data."""
    grey = tf.fill([resolution, resolution, 3], tf.constant(128, tf.uint8))
    return tf.io.encode_png(grey).numpy()


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains the configured classifier and exports the serving SavedModel."""
    config = fn_args.custom_config
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    labels = [line.decode() if isinstance(line, bytes) else line
              for line in tft_output.vocabulary_by_name(LABEL_VOCABULARY)]
    batch_size = config.get("batch_size", 64)
    # Augmentation on the training split only: evaluation and the export never see it.
    augment = features_augmenter(Augmentation.from_config(config.get("augment")), IMAGE_KEY)
    train_ds = transformed_dataset(fn_args, fn_args.train_files, tft_output, LABEL_KEY,
                                   batch_size, shuffle=True, batch_map=augment)
    eval_steps = min(fn_args.eval_steps, EVAL_BATCHES_MAX)
    eval_ds = transformed_dataset(fn_args, fn_args.eval_files, tft_output, LABEL_KEY,
                                  batch_size, shuffle=False, sample=eval_steps * batch_size)

    strategy = distribution_strategy(config.get("strategy", "one_device"), config.get("tpu"))
    with strategy.scope():
        model = build_model(config, num_classes=len(labels), train_steps=fn_args.train_steps)
    if strategy.num_replicas_in_sync > 1:
        print(f"    {type(strategy).__name__} over {strategy.num_replicas_in_sync} replicas",
              flush=True)
    print(f"    {model.name}: {model.count_params():,} parameters, {len(labels)} classes, "
          f"{fn_args.train_steps} steps of batch {batch_size}", flush=True)
    fit_steps(model, train_ds, eval_ds, fn_args.train_steps, eval_steps,
              log_dir=fn_args.model_run_dir,
              backup_dir=config.get("backup_dir") and backup_dir_for(
                  config["backup_dir"], config, fn_args.train_steps, fn_args.train_files),
              epochs=config.get("epochs", 4), config=config)
    with strategy.scope():
        # Trained in 16 bits or not, the export is float32: serving, TFMA and TFLite see the
        # same graph either way.
        model = float32_model(model, lambda: build_model(
            {**config, "mixed_precision": "off"}, len(labels)))
        compile_for_export(model)

    with chief_writes(os.path.dirname(fn_args.serving_model_dir), strategy) as model_uri:
        # The bare Keras model (preprocessed images in, probabilities out) for the mobile
        # optimiser: TFMO needs the Keras graph, which the serving SavedModel does not give.
        keras_dir = os.path.join(model_uri, KERAS_DIR)
        os.makedirs(keras_dir, exist_ok=True)
        model.save(os.path.join(keras_dir, "model.keras"))
        signatures = _signatures(model, tft_output, labels, config.get("top_k", 5))
        # No optimizer slots (a third of the size, useless to serving) and no per-layer
        # traces (tracing every layer of Inception v3 took a minute; the layers rebuild from
        # config).
        serving_dir = os.path.join(model_uri, os.path.basename(fn_args.serving_model_dir))
        model.save(serving_dir, save_format="tf", signatures=signatures,
                   include_optimizer=False, save_traces=False)
        write_predict_warmup(serving_dir, {"image_bytes": [_warmup_image(config["resolution"])]})

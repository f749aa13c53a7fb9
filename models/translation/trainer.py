"""TFX Trainer module: GNMT on the transformed (source, target) sentences with Transform's
wordpiece vocabulary, exported as a SavedModel whose `serving_default` takes a batch of raw
source strings and returns `translations` and their GNMT `scores`."""
from __future__ import annotations

import glob
import json
import os
from typing import Any

import tensorflow as tf

from models import input_pipeline
from models.artifacts import KERAS_DIR
from models.keras2 import keras
from models.training import (
    backup_dir_for,
    build_optimizer,
    chief_writes,
    compile_options,
    distribution_strategy,
    fit_steps,
)
from models.translation import gnmt
from models.translation.preprocessing import SOURCE_KEY, TARGET_KEY
from models.translation.translator import Translator
from models.translation.wordpieces import END_ID, START_ID, VOCABULARY_FILE, Wordpieces
from pipelines.translation.settings import INPUT_NAME
from serving.core.warmup import write_predict_warmup

EVAL_BATCHES_MAX = 20
BUCKET_BOUNDARIES = (10, 12, 14, 16, 18, 21, 25, 30, 36, 44, 56, 72)
WARMUP_SENTENCES = ["The meeting is on Monday, March 1, 2021.", "She speaks French."]


def model_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The architecture: the preset's, with any explicitly configured value on top."""
    preset = gnmt.PRESETS[config.get("preset", "cpu")]
    settings = {"encoder_layers": preset.encoder_layers,
                "decoder_layers": preset.decoder_layers, "units": preset.units,
                "dropout": preset.dropout}
    settings.update({k: config[k] for k in settings if config.get(k) is not None})
    return settings


def build_model(config: dict[str, Any], vocab_size: int, train_steps: int = 1) -> keras.Model:
    """GNMT compiled with Adam clipped at norm 5 (as GNMT trains), the shared recipe's rate
    over `train_steps` and the techniques (models/training.py)."""
    model = gnmt.GNMT(vocab_size, **model_settings(config))
    recipe = {**config, "learning_rate": config.get("learning_rate", 2e-3)}
    model.compile(optimizer=build_optimizer(recipe, train_steps, clipnorm=5.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  **compile_options(config))
    return model


def read_vocabulary(transform_graph_path: str) -> list[str]:
    """The wordpiece vocabulary Transform learned (an asset of its graph)."""
    found = glob.glob(os.path.join(transform_graph_path, "transform_fn", "assets",
                                   f"*{VOCABULARY_FILE}*"))
    if not found:
        raise FileNotFoundError(f"no {VOCABULARY_FILE} in {transform_graph_path}")
    with tf.io.gfile.GFile(found[0]) as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


def token_dataset(texts: tf.data.Dataset, wordpieces: Wordpieces, batch_size: int,
                  max_tokens: int, shuffle: bool, plan: input_pipeline.InputPlan | None = None,
                  seed: int = 0) -> tf.data.Dataset:
    """Unbatched {source, target} strings → ((source ids, target ids after [START]),
    target ids then [END]) batches, 0-padded; pairs longer than max_tokens are left out.
    Tokenized pairs are cached in memory when `plan` allows (always without one: texts
    already in memory), else streamed (models/input_pipeline.py)."""
    def tokenize(batch):
        source = wordpieces.tokenize(tf.reshape(batch[SOURCE_KEY], [-1]))
        target = wordpieces.tokenize(tf.reshape(batch[TARGET_KEY], [-1]))
        return tf.data.Dataset.from_tensor_slices((tf.cast(source, tf.int32),
                                                   tf.cast(target, tf.int32)))

    def teacher_forcing(source, target):
        target_in = tf.concat([[START_ID], target], axis=0)
        target_out = tf.concat([target, [END_ID]], axis=0)
        return (source, target_in), target_out

    def short(source, target):
        return tf.logical_and(tf.size(source) <= max_tokens, tf.size(target) < max_tokens)

    def length(inputs, target_out):
        return tf.maximum(tf.size(inputs[0]), tf.size(target_out))

    dataset = texts.batch(1024).flat_map(tokenize).filter(short)
    if plan is None:
        dataset = dataset.cache()
        if shuffle:
            dataset = dataset.shuffle(20_000, reshuffle_each_iteration=True)
    else:
        dataset = input_pipeline.cached_or_streamed(dataset, plan, shuffle, seed)
    # Batches of similar lengths (as tensorflow/nmt's buckets): a batch pads to its longest
    # pair, so mixing 8- and 40-token sentences would spend most steps on padding.
    boundaries = [b for b in BUCKET_BOUNDARIES if b < max_tokens + 1]
    dataset = dataset.map(teacher_forcing).bucket_by_sequence_length(
        length, boundaries, [batch_size] * (len(boundaries) + 1))
    return dataset.repeat().prefetch(tf.data.AUTOTUNE)


def split_dataset(patterns: list[str], spec: dict[str, Any], wordpieces: Wordpieces,
                  batch_size: int, max_tokens: int, shuffle: bool, budget_mb: float | None,
                  seed: int) -> tf.data.Dataset:
    """`token_dataset` of the Transform output files of one split (glob `patterns`), read in
    a shuffled file order and cached within the input budget (models/input_pipeline.py)."""
    files = input_pipeline.expand(patterns)
    # Wordpiece ids (4-byte) take about the bytes of the text they come from.
    plan = input_pipeline.plan_input(files, budget_mb)
    print(plan.describe("train" if shuffle else "eval"), flush=True)
    texts = input_pipeline.record_files(files, shuffle, seed).batch(256).map(
        lambda records: tf.io.parse_example(records, spec),
        num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    return token_dataset(texts, wordpieces, batch_size, max_tokens, shuffle, plan, seed)


def export(model: keras.Model, vocabulary: list[str], config: dict[str, Any],
           serving_model_dir: str) -> None:
    """Writes the serving SavedModel (strings in, translations and scores out) with TF Serving
    warm-up records, and the Keras weights and settings beside it for the mobile hook."""
    # A fresh inference model with the trained weights: no optimizer slots in the export.
    inference = gnmt.GNMT(len(vocabulary), **model_settings(config))
    inference.set_weights(model.get_weights())
    translator = Translator(
        inference, vocabulary, beam_width=config.get("beam_width", 4),
        alpha=config.get("alpha", 0.2), beta=config.get("beta", 0.2),
        max_input_tokens=config.get("max_input_tokens", 100),
        max_output_tokens=config.get("max_output_tokens", 200))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(sources):
        return translator.translate(sources)

    # The root tracks the weights and the tokenizer, not the Keras layers: Keras would trace
    # and serialise every layer's call, which the decoder cell's step signature defeats and
    # which serving never uses.
    root = tf.Module()
    root.weights = list(inference.weights)
    root.wordpieces = translator.wordpieces
    root.serve = serve
    tf.saved_model.save(root, serving_model_dir, signatures={"serving_default": serve})
    write_predict_warmup(serving_model_dir, {INPUT_NAME: WARMUP_SENTENCES})

    keras_dir = os.path.join(os.path.dirname(serving_model_dir), KERAS_DIR)
    tf.io.gfile.makedirs(keras_dir)
    inference.save_weights(os.path.join(keras_dir, "weights"))  # TF checkpoint
    with tf.io.gfile.GFile(os.path.join(keras_dir, "settings.json"), "w") as f:
        json.dump({"vocab_size": len(vocabulary), **model_settings(config),
                   "beam_width": translator.beam_width, "alpha": translator.alpha,
                   "beta": translator.beta, "max_input_tokens": translator.max_input_tokens,
                   "max_output_tokens": translator.max_output_tokens}, f)
    with tf.io.gfile.GFile(os.path.join(keras_dir, VOCABULARY_FILE), "w") as f:
        f.write("".join(token + "\n" for token in vocabulary))


def train(model: keras.Model, train_ds, eval_ds, train_steps: int, eval_steps: int,
          log_dir: str, backup_dir: str | None, epochs: int = 4,
          config: dict[str, Any] | None = None) -> keras.callbacks.History:
    return fit_steps(model, train_ds, eval_ds, train_steps, min(eval_steps, EVAL_BATCHES_MAX),
                     log_dir=log_dir, backup_dir=backup_dir, epochs=epochs, config=config)


def run_fn(fn_args: Any) -> None:
    """Trains GNMT on the Transform output and exports the serving SavedModel."""
    config = fn_args.custom_config
    vocabulary = read_vocabulary(fn_args.transform_graph_path)
    wordpieces = Wordpieces(vocabulary)
    batch_size, max_tokens = config.get("batch_size", 64), config.get("max_input_tokens", 100)
    import tensorflow_transform as tft

    spec = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_feature_spec()
    train_ds, eval_ds = (
        split_dataset(files, spec, wordpieces, batch_size, max_tokens, shuffle,
                      config.get("input_cache_mb"), config.get("seed", 0))
        for files, shuffle in ((fn_args.train_files, True), (fn_args.eval_files, False)))
    strategy = distribution_strategy(config.get("strategy", "one_device"), config.get("tpu"))
    with strategy.scope():
        model = build_model(config, len(vocabulary), fn_args.train_steps)
    print(f"    {model.name}: {model.count_params():,} parameters, {len(vocabulary)} "
          f"wordpieces, {fn_args.train_steps} steps of batch {batch_size}", flush=True)
    train(model, train_ds, eval_ds, fn_args.train_steps, fn_args.eval_steps,
          log_dir=fn_args.model_run_dir,
          backup_dir=config.get("backup_dir") and backup_dir_for(
              config["backup_dir"], config, fn_args.train_steps, fn_args.train_files),
          epochs=config.get("epochs", 4), config=config)
    with chief_writes(os.path.dirname(fn_args.serving_model_dir), strategy) as model_uri:
        export(model, vocabulary, config,
               os.path.join(model_uri, os.path.basename(fn_args.serving_model_dir)))

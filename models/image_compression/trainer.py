"""TFX Trainer module of the image-compression pipeline: trains the Residual-GRU codec on 32×32
patches and exports a serving SavedModel whose signatures work on raw bytes:

    encode (serving_default): image_bytes [batch] string, iterations [batch] int32
                              → code_bytes [batch] string (.rgc streams, raw chunks)
    decode: code_bytes [batch] string → png_bytes [batch] string

plus, under assets.extra/codec/, the weights `shipyard compress` / `decompress` load.
"""
from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from models import input_pipeline
from models.image_compression import codec, crops, graph_codec
from models.image_compression import residual_gru as rg
from models.keras2 import keras
from models.training import (
    backup_dir_for,
    chief_writes,
    compile_options,
    distribution_strategy,
    fit_steps,
    technique_rate,
)
from serving.core.warmup import write_predict_warmup

IMAGE_KEY = "image"
PATCH_BYTES = rg.PATCH * rg.PATCH * 3 * 4  # one float32 patch
# Parsed bytes per serialized byte of a held-out photo: a PNG of a photo is about half its
# raw RGB bytes, and each 8-bit channel becomes a 4-byte float.
PNG_EXPANSION = 8.0


def _files(patterns: list[str]) -> list[str]:
    return sorted(f for p in patterns for f in tf.io.gfile.glob(p))


def patch_dataset(files: list[str], batch_size: int, shuffle: bool,
                  budget_mb: float | None = None, seed: int = 0) -> tf.data.Dataset:
    """Every non-overlapping 32×32 patch of the split's images (a 32×32 training example is
    one patch; a held-out photo gives its whole tile grid), in [-0.5, 0.5], batched, repeated;
    cached in memory only within the input-cache budget (models/input_pipeline.py)."""
    def tiles(serialized: tf.Tensor) -> tf.Tensor:
        encoded = tf.io.parse_single_example(
            serialized, {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)})[IMAGE_KEY]
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        rows, cols = tf.shape(image)[0] // rg.PATCH, tf.shape(image)[1] // rg.PATCH
        image = image[: rows * rg.PATCH, : cols * rg.PATCH]
        grid = tf.reshape(image, [rows, rg.PATCH, cols, rg.PATCH, 3])
        patches = tf.reshape(tf.transpose(grid, [0, 2, 1, 3, 4]), [-1, rg.PATCH, rg.PATCH, 3])
        return tf.cast(patches, tf.float32) / 255.0 - 0.5

    plan = input_pipeline.plan_input(files, budget_mb, bytes_per_record=PATCH_BYTES,
                                     expansion=PNG_EXPANSION)
    print(plan.describe("train" if shuffle else "eval"), flush=True)
    patches = input_pipeline.record_files(files, shuffle, seed).map(
        tiles, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    dataset = input_pipeline.cached_or_streamed(patches, plan, shuffle, seed)
    return dataset.batch(batch_size, drop_remainder=True).repeat().prefetch(tf.data.AUTOTUNE)


def read_images(files: list[str]) -> list:
    """Every image of the split as uint8 (H, W, 3) numpy arrays (decoded once, kept in memory)."""
    def decode(serialized: tf.Tensor) -> tf.Tensor:
        encoded = tf.io.parse_single_example(
            serialized, {IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)})[IMAGE_KEY]
        return tf.io.decode_image(encoded, channels=3, expand_animations=False)

    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(decode)
    return [image.numpy() for image in dataset]


def crop_dataset(photos: list, batch_size: int, seed: int = 0,
                 shuffle: float = crops.SHUFFLE) -> tf.data.Dataset:
    """Endless batches of random 32×32 crops (flipped at random, a `shuffle` share with their
    colour channels reordered, drawn more often where the photo is busy: models/
    image_compression/crops.py) of whole photos, in [-0.5, 0.5]. A split of fixed patches
    (--max-patches-per-photo) gives those patches, flipped and reordered alike."""
    sampler = crops.CropSampler(photos, seed, shuffle)
    spec = tf.TensorSpec([batch_size, rg.PATCH, rg.PATCH, 3], tf.float32)
    return tf.data.Dataset.from_generator(lambda: sampler.batches(batch_size),
                                          output_signature=spec).prefetch(4)


def build_model(config: dict[str, Any], train_steps: int) -> rg.ResidualGRUCodec:
    """The configured codec, compiled with Adam decaying from the learning rate to a tenth
    (3e-3 → 3e-4: on 2 CPU cores 3e-3 trained faster than the calibration probe's 1e-3)."""
    learning_rate = config.get("learning_rate", 3e-3)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, train_steps),
                                                      alpha=0.1)
    return rg.residual_gru_codec(config.get("preset", "cpu"), config.get("alpha"),
                                 iterations=config.get("iterations", 8),
                                 gamma=config.get("gamma", 1.0),
                                 learning_rate=technique_rate(schedule, config, train_steps),
                                 **compile_options(config))


def export(model: rg.ResidualGRUCodec, serving_model_dir: str, warmup_image: bytes,
           photos: list | None = None) -> None:
    """The serving SavedModel (encode / decode signatures) with the codec's weights inside,
    and the entropy model over the codes of `photos` (the training photos) beside them."""
    trained = codec.Codec(model)
    if photos:
        trained.fit_entropy(photos)
    module = graph_codec.CodecModule(model, trained.model_id, model.iterations)
    tf.saved_model.save(module, serving_model_dir, signatures={
        "serving_default": module.encode, "encode": module.encode, "decode": module.decode})
    trained.save(os.path.join(serving_model_dir, codec.SAVED_MODEL_SUBDIR))
    write_predict_warmup(serving_model_dir, {"image_bytes": [warmup_image],
                                             "iterations": [1]})


def warmup_png() -> bytes:
    """A small gradient PNG: warm-up needs a valid request, not real data."""
    ramp = tf.cast(tf.linspace(0.0, 255.0, 64), tf.uint8)
    image = tf.stack([tf.tile(ramp[tf.newaxis], [48, 1])] * 3, axis=-1)
    return tf.io.encode_png(image).numpy()


def run_fn(fn_args: Any) -> None:
    """Trains the codec on the train split's patches and exports it for serving."""
    config = fn_args.custom_config
    batch_size = config.get("batch_size", 32)
    budget_mb, seed = config.get("input_cache_mb"), config.get("seed", 0)
    photos = read_images(_files(fn_args.train_files))
    train_ds = crop_dataset(photos, batch_size, seed,
                            config.get("channel_shuffle", crops.SHUFFLE))
    eval_ds = patch_dataset(_files(fn_args.eval_files), batch_size, False, budget_mb, seed)
    strategy = distribution_strategy(config.get("strategy", "one_device"), config.get("tpu"))
    with strategy.scope():
        model = build_model(config, fn_args.train_steps)
    widths = model.widths
    print(f"    residual GRU codec: {model.count_params():,} parameters (encoder "
          f"{widths.encoder_conv}/{'/'.join(map(str, widths.encoder_grus))}, decoder "
          f"{widths.decoder_conv}/{'/'.join(map(str, widths.decoder_grus))}, {widths.bits} "
          f"bits), {model.iterations} iterations, γ = {model.gamma:g}, "
          f"{fn_args.train_steps} steps of {batch_size} patches", flush=True)
    fit_steps(model, train_ds, eval_ds, fn_args.train_steps, max(1, fn_args.eval_steps),
              log_dir=fn_args.model_run_dir,
              backup_dir=config.get("backup_dir") and backup_dir_for(
                  config["backup_dir"], config, fn_args.train_steps, fn_args.train_files),
              epochs=config.get("epochs", 4), config=config)
    with chief_writes(os.path.dirname(fn_args.serving_model_dir), strategy) as model_uri:
        export(model, os.path.join(model_uri, os.path.basename(fn_args.serving_model_dir)),
               warmup_png(), photos)

"""Budget-driven model choice: the MobileNet paper's α × resolution trade-off, made operational.

Each candidate of a small grid is built, trained briefly on the run's own data, converted to
the TFLite variant phones would get, and measured on LiteRT (accuracy on a held-out fifth,
file size, single-thread p50 latency). The most accurate candidate that fits both budgets
wins; the pipeline then trains it for real and its fidelity gate holds the pushed .tflite to
the same budgets.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf

from models import complexity, tflite
from models.image_classification.features import IMAGE_KEY, LABEL_KEY, decode_and_resize
from models.image_classification.mobilenet_v1 import mobilenet_v1
from models.keras2 import keras
from models.training import build_optimizer

SCREEN_LIMIT = 2000  # images read for screening: enough to rank, cheap to decode


@dataclasses.dataclass
class Candidate:
    alpha: float
    resolution: int
    macs_millions: float
    params: int
    size_mb: float
    latency_p50_ms: float
    accuracy: float
    reasons: list[str]

    @property
    def fits(self) -> bool:
        return not self.reasons


def read_examples(files: list[str], limit: int = SCREEN_LIMIT) -> tuple[list[bytes], np.ndarray,
                                                                       list[str]]:
    """(encoded images, label ids, label names) from the run's tf.Example TFRecord files."""
    if not files:
        raise FileNotFoundError("no TFRecord files to screen candidates on")
    images, labels = [], []
    for path in files:
        compression = "GZIP" if path.endswith(".gz") else ""
        for record in tf.data.TFRecordDataset(path, compression_type=compression):
            features = tf.train.Example.FromString(record.numpy()).features.feature
            images.append(features[IMAGE_KEY].bytes_list.value[0])
            label = features[LABEL_KEY]
            # Labels are strings or integers (the pipeline's data formats allow both).
            labels.append(label.bytes_list.value[0].decode() if label.bytes_list.value
                          else str(label.int64_list.value[0]))
            if len(images) >= limit:
                break
        if len(images) >= limit:
            break
    names = sorted(set(labels))
    return images, np.asarray([names.index(v) for v in labels], np.int64), names


def _split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every fifth example of a fixed shuffle is held out."""
    order = np.random.default_rng(seed).permutation(n)
    return order[n // 5:], order[:n // 5]


def judge(size_mb: float, latency_ms: float, size_budget_mb: float | None,
          latency_budget_ms: float | None) -> list[str]:
    reasons = []
    if size_budget_mb is not None and size_mb > size_budget_mb:
        reasons.append(f"size {size_mb:.3f} MB > {size_budget_mb:g} MB")
    if latency_budget_ms is not None and latency_ms > latency_budget_ms:
        reasons.append(f"latency {latency_ms:.3f} ms > {latency_budget_ms:g} ms")
    return reasons


def screen(images: list[bytes], label_ids: np.ndarray, num_classes: int,
           grid: list[tuple[float, int]], conversion: str, train_steps: int, batch_size: int,
           learning_rate: float, size_budget_mb: float | None,
           latency_budget_ms: float | None, io_type: str = "uint8") -> list[Candidate]:
    """Trains, converts and measures every (α, resolution) of `grid`."""
    train, held_out = _split(len(images))
    encoded = tf.constant(images)
    candidates = []
    for alpha, resolution in grid:
        start = time.monotonic()
        pixels = decode_and_resize(encoded, resolution).numpy()
        keras.utils.set_random_seed(0)
        model = mobilenet_v1(alpha=alpha, resolution=resolution, classes=num_classes,
                             dropout=0.001)
        # The shared optimizer at a constant rate: screening ranks candidates, briefly.
        model.compile(build_optimizer({"learning_rate": learning_rate}, train_steps),
                      keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        dataset = tf.data.Dataset.from_tensor_slices(
            (pixels[train], label_ids[train])).shuffle(len(train), seed=0).repeat().batch(
                batch_size)
        model.fit(dataset, steps_per_epoch=train_steps, epochs=1, verbose=0)

        def representative(x=pixels[train][:200]):
            for row in x:
                yield [row[None]]

        data = tflite.convert(model, conversion, representative, io_type=io_type)
        predictions = np.argmax(tflite.predict(data, pixels[held_out]), axis=-1)
        accuracy = float(np.mean(predictions == label_ids[held_out]))
        timing = tflite.latency(data, runs=50)
        size_mb = len(data) / 1e6
        candidates.append(Candidate(
            alpha, resolution, round(complexity.count_macs(model) / 1e6, 2),
            complexity.count_params(model), size_mb, timing.p50_ms, accuracy,
            judge(size_mb, timing.p50_ms, size_budget_mb, latency_budget_ms)))
        print(f"    α {alpha:g} × {resolution} px: {conversion} accuracy {accuracy:.3f}, "
              f"{size_mb:.3f} MB, p50 {timing.p50_ms:.3f} ms "
              f"({time.monotonic() - start:.0f} s)", flush=True)
        keras.backend.clear_session()
    return candidates


def choose(candidates: list[Candidate]) -> Candidate | None:
    """The most accurate candidate that fits; ties go to the cheaper one (fewer MACs)."""
    fitting = [c for c in candidates if c.fits]
    if not fitting:
        return None
    return max(fitting, key=lambda c: (c.accuracy, -c.macs_millions))


def render(candidates: list[Candidate], conversion: str, chosen: Candidate | None) -> str:
    lines = [f"| α | resolution | million MACs | parameters | {conversion} MB | p50 ms "
             "| accuracy | fits? |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in candidates:
        verdict = "yes" if c.fits else "no: " + "; ".join(c.reasons)
        if c is chosen:
            verdict += " (chosen)"
        lines.append(f"| {c.alpha:g} | {c.resolution} | {c.macs_millions:,.2f} | {c.params:,} "
                     f"| {c.size_mb:.3f} | {c.latency_p50_ms:.3f} | {c.accuracy:.3f} "
                     f"| {verdict} |")
    return "\n".join(lines)

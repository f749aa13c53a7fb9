"""TFLite variants side by side: float32, float16, dynamic-range, int8 PTQ, QAT int8 and
pruned-50 % int8, on LiteRT (1 thread, XNNPACK): accuracy, size, gzip size, latency.

Per model family, two models in one run, as the calibration notes advise: a small trained
model on digits for accuracy (MobileNet v1 α 0.25 at 32 px, the pipeline's default; Inception v3
at its 75 px minimum), and the paper's model (MobileNet v1 α 1.0 at 224 px; Inception v3 at
299 px; untrained weights: size and latency do not depend on them) for the size and speed
targets. Writes benchmarks/results/mobile_variants.{json,md,png}.

    python -m benchmarks.mobile_variants [--models mobilenet_v1 inception_v3]
        [--train-steps 1500] [--inception-train-steps 300] [--fine-tune-steps 300]
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import dataclasses
import json
import platform
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from benchmarks import results as benchmark_results
from models import optimization, tflite
from models.image_classification.inception_v3 import inception_v3
from models.image_classification.mobilenet_v1 import mobilenet_v1
from models.keras2 import keras

RESULTS = benchmark_results.RESULTS


@dataclasses.dataclass(frozen=True)
class Family:
    """A small model trained on digits (accuracy) and the paper-scale one (size, speed)."""

    small: Callable[[int, int], keras.Model]  # (resolution, classes) → model
    small_resolution: int
    small_title: str
    paper: Callable[[int, int], keras.Model]
    paper_resolution: int
    paper_title: str


FAMILIES = {
    "mobilenet_v1": Family(
        lambda r, c: mobilenet_v1(resolution=r, alpha=0.25, classes=c), 32,
        "MobileNet v1 α 0.25", lambda r, c: mobilenet_v1(resolution=r, alpha=1.0, classes=c),
        224, "MobileNet v1 α 1.0"),
    "inception_v3": Family(
        lambda r, c: inception_v3(resolution=r, classes=c), 75, "Inception v3",
        lambda r, c: inception_v3(resolution=r, classes=c), 299, "Inception v3"),
}
FASTER = 1.1  # a speed-up counts when p50 drops by at least 10 %
VARIANTS = ("float32", "float16", "dynamic", "int8", "qat_int8", "pruned_int8")


def digits(resolution: int) -> tuple[np.ndarray, ...]:
    """scikit-learn's digits as RGB images in [-1, 1], stratified 80/20 split (seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = np.repeat(data.images[..., None] / 16.0, 3, axis=-1).astype(np.float32)
    images = tf.image.resize(images, [resolution, resolution]).numpy() * 2 - 1
    return tuple(train_test_split(images, data.target, test_size=0.2, random_state=0,
                                  stratify=data.target))


def build_variants(model: keras.Model, train_ds: tf.data.Dataset, representative,
                   fine_tune: optimization.FineTune) -> dict[str, tuple[bytes, float]]:
    """variant → (.tflite bytes, seconds to optimise + convert)."""
    out = {}
    for name in VARIANTS:
        technique, conversion = optimization.VARIANTS[name]
        start = time.monotonic()
        optimized = optimization.optimize(model, technique, train_ds, fine_tune)
        out[name] = (tflite.convert(optimized, conversion, representative),
                     time.monotonic() - start)
        print(f"  {name}: {len(out[name][0]) / 1e6:.3f} MB in {out[name][1]:.0f} s", flush=True)
    return out


def measure(variants: dict[str, tuple[bytes, float]], x: np.ndarray | None,
            y: np.ndarray | None, runs: int) -> dict[str, dict]:
    rows = {}
    for name, (data, seconds) in variants.items():
        timing = tflite.latency(data, runs=runs)
        row = {"size_bytes": len(data), "gzip_bytes": tflite.gzip_size(data),
               "latency_p50_ms": timing.p50_ms, "latency_p90_ms": timing.p90_ms,
               "latency_runs": timing.runs, "build_seconds": round(seconds, 1)}
        if x is not None:
            row["accuracy"] = float(np.mean(np.argmax(tflite.predict(data, x), -1) == y))
        rows[name] = row
    return rows


def small_model(family: str, args: argparse.Namespace) -> dict:
    spec = FAMILIES[family]
    build, resolution, title = spec.small, spec.small_resolution, spec.small_title
    steps = args.train_steps if family == "mobilenet_v1" else args.inception_train_steps
    x_train, x_test, y_train, y_test = digits(resolution)
    keras.utils.set_random_seed(0)
    model = build(resolution, 10)
    for layer in model.layers:  # as the pipeline's Trainer does
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(
        len(x_train), seed=0).batch(64)
    start = time.monotonic()
    model.fit(train_ds.repeat(), steps_per_epoch=steps, epochs=1, verbose=0)
    keras_accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    print(f"{family} small model: {steps} steps in {time.monotonic() - start:.0f} s, "
          f"Keras accuracy {keras_accuracy:.4f}", flush=True)

    def representative():
        for row in x_train[:200]:
            yield [row[None]]

    variants = build_variants(model, train_ds, representative,
                              optimization.FineTune(steps=args.fine_tune_steps,
                                                    learning_rate=1e-4, sparsity=0.5))
    return {"model": f"{title}, {resolution} px, digits (trained {steps} steps)",
            "keras_accuracy": keras_accuracy, "test_examples": int(len(y_test)),
            "variants": measure(variants, x_test, y_test, args.runs)}


def paper_model(family: str, args: argparse.Namespace) -> dict:
    spec = FAMILIES[family]
    build, resolution, title = spec.paper, spec.paper_resolution, spec.paper_title
    keras.utils.set_random_seed(0)
    model = build(resolution, 1000)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (8, resolution, resolution, 3)).astype(np.float32)
    train_ds = tf.data.Dataset.from_tensor_slices((x, rng.integers(0, 1000, 8))).batch(4)

    def representative():
        for row in x:
            yield [row[None]]

    # Two fine-tune steps: enough to set QAT ranges and reach 50 % sparsity for size / speed.
    variants = build_variants(model, train_ds, representative,
                              optimization.FineTune(steps=2, sparsity=0.5))
    return {"model": f"{title}, {resolution} px, 1000 classes (untrained weights)",
            "variants": measure(variants, None, None, args.runs)}


def render(results: dict) -> str:
    lines = [f"## TFLite variants on LiteRT ({results['machine']})", "",
             "1 thread, batch 1, XNNPACK on; latency over "
             f"{results['runs']} runs after 10 warm-up runs; load average at the end "
             f"{results.get('load_average', '?')}.", ""]
    for block in _blocks(results):
        rows = block["variants"]
        base = rows["float32"]
        lines += [f"## {block['model']}", ""]
        if "keras_accuracy" in block:
            lines += [f"Keras float accuracy {block['keras_accuracy']:.4f} on "
                      f"{block['test_examples']} test images.", ""]
        lines += ["| variant | accuracy | size MB | gzip MB | float32 ÷ size | p50 ms | p90 ms "
                  "| float32 ÷ p50 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, r in rows.items():
            accuracy = f"{r['accuracy']:.4f}" if "accuracy" in r else "-"
            size_ratio = base["size_bytes"] / r["size_bytes"]
            speed_ratio = base["latency_p50_ms"] / r["latency_p50_ms"]
            lines.append(
                f"| {name} | {accuracy} | {r['size_bytes'] / 1e6:.3f} | {r['gzip_bytes'] / 1e6:.3f}"
                f" | {size_ratio:.2f}× | {r['latency_p50_ms']:.3f} | {r['latency_p90_ms']:.3f} "
                f"| {speed_ratio:.2f}× |")
        lines.append("")
    lines += ["## Targets (TFMO / TFLite docs)", ""]
    lines += [f"- {t['target']}: {t['measured']} — {'met' if t['met'] else 'NOT met'}"
              for t in results["targets"]]
    return "\n".join(lines) + "\n"


def _families(results: dict) -> dict[str, dict]:
    """family → {"small", "paper"} (results of older runs hold MobileNet only, unnested)."""
    return results.get("families") or {"mobilenet_v1": {"small": results["small"],
                                                        "paper": results["paper"]}}


def _blocks(results: dict) -> list[dict]:
    return [block for family in _families(results).values()
            for block in (family["small"], family["paper"])]


def targets(results: dict) -> list[dict]:
    out = []

    def add(target: str, measured: str, met: bool) -> None:
        out.append({"target": target, "measured": measured, "met": bool(met)})

    for blocks in _families(results).values():
        paper, small = blocks["paper"]["variants"], blocks["small"]
        s = small["variants"]
        big = blocks["paper"]["model"].split(" (")[0]
        little = small["model"].split(", digits")[0]
        ratio = paper["float32"]["size_bytes"] / paper["int8"]["size_bytes"]
        add(f"int8 ≥ 3.5× smaller than float32 ({big})", f"{ratio:.2f}×", ratio >= 3.5)
        # "Faster" needs a margin beyond run-to-run noise on shared cores (10 %).
        speed = paper["float32"]["latency_p50_ms"] / paper["int8"]["latency_p50_ms"]
        add(f"int8 faster than float32 on one thread ({big})", f"{speed:.2f}×",
            speed >= FASTER)
        speed_small = s["float32"]["latency_p50_ms"] / s["int8"]["latency_p50_ms"]
        add(f"int8 faster than float32 on one thread ({little})", f"{speed_small:.2f}×",
            speed_small >= FASTER)
        drop = small["keras_accuracy"] - s["qat_int8"]["accuracy"]
        add(f"QAT int8 accuracy within 1 point of float ({little}, trained)",
            f"{drop * 100:+.2f} points", drop <= 0.01)
        gain = s["qat_int8"]["accuracy"] - s["int8"]["accuracy"]
        add(f"QAT int8 ≥ PTQ int8 accuracy ({little})", f"{gain * 100:+.2f} points", gain >= 0)
    return out


def plot(results: dict, path: str) -> None:
    """Accuracy vs single-thread p50 latency of the small trained model's variants (Pillow:
    matplotlib is not a dependency)."""
    from PIL import Image, ImageDraw

    rows = {f"{name} {family.split('_')[0]}": r for family, blocks in _families(results).items()
            for name, r in blocks["small"]["variants"].items()}
    width, height, margin = 900, 560, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    lat = [r["latency_p50_ms"] for r in rows.values()]
    acc = [r["accuracy"] for r in rows.values()]
    lat_lo, lat_hi = min(lat) * 0.9, max(lat) * 1.1
    acc_lo, acc_hi = min(acc) - 0.01, max(acc) + 0.01

    def xy(latency: float, accuracy: float) -> tuple[float, float]:
        return (margin + (latency - lat_lo) / (lat_hi - lat_lo) * (width - 2 * margin),
                height - margin - (accuracy - acc_lo) / (acc_hi - acc_lo) * (height - 2 * margin))

    draw.line([(margin, margin), (margin, height - margin), (width - margin, height - margin)],
              fill="black")
    for i in range(5):
        value = lat_lo + (lat_hi - lat_lo) * i / 4
        x, _ = xy(value, acc_lo)
        draw.text((x - 12, height - margin + 6), f"{value:.3f}", fill="black")
        value = acc_lo + (acc_hi - acc_lo) * i / 4
        _, y = xy(lat_lo, value)
        draw.text((8, y - 6), f"{value:.3f}", fill="black")
    draw.text((width // 2 - 110, height - 30), "single-thread p50 latency (ms), LiteRT",
              fill="black")
    # ASCII only: Pillow's default bitmap font has no Greek letters.
    draw.text((8, 20), "accuracy (digits test split) - small trained models "
              "(MobileNet v1 alpha 0.25 32 px, Inception v3 75 px)", fill="black")
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    colors = colors * (len(rows) // len(colors) + 1)
    for (name, r), color in zip(rows.items(), colors, strict=False):
        x, y = xy(r["latency_p50_ms"], r["accuracy"])
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=color)
        draw.text((x + 9, y - 7), f"{name} ({r['size_bytes'] / 1e3:.0f} KB)", fill=color)
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(FAMILIES),
                        default=list(FAMILIES))
    parser.add_argument("--train-steps", type=int, default=1500,
                        help="training steps of the small MobileNet")
    parser.add_argument("--inception-train-steps", type=int, default=300,
                        help="training steps of the small Inception v3 (75 px)")
    parser.add_argument("--fine-tune-steps", type=int, default=300)
    parser.add_argument("--runs", type=int, default=100, help="timed runs per variant (≥ 50)")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render the markdown, targets and plot from the saved JSON")
    args = parser.parse_args()
    if args.render_only:
        with open(os.path.join(RESULTS, "mobile_variants.json")) as f:
            results = json.load(f)
        results["targets"] = targets(results)
        _write(results)
        return
    tf.get_logger().setLevel("ERROR")
    start = time.monotonic()
    results = {"machine": f"{os.cpu_count()} CPU cores, {platform.processor() or 'CPU'}",
               "runs": args.runs,
               "families": {family: {"small": small_model(family, args),
                                     "paper": paper_model(family, args)}
                            for family in args.models}}
    results["seconds"] = round(time.monotonic() - start)
    results["load_average"] = [round(v, 1) for v in os.getloadavg()]
    results["run"] = benchmark_results.run_metadata("mobile_variants")
    # Saved before anything can fail, so that --render-only recovers an hour of measuring.
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "mobile_variants.json"), "w") as f:
        json.dump(results, f, indent=2)
    results["targets"] = targets(results)
    _write(results)


def _write(results: dict) -> None:
    benchmark_results.write("mobile_variants", results, render(results))
    plot(results, os.path.join(RESULTS, "mobile_variants.png"))
    print(render(results))


if __name__ == "__main__":
    main()

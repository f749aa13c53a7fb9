"""Rate–distortion of the Residual-GRU codec vs JPEG and WebP on the held-out photos, and speed.

For each held-out photo (astronaut, flower, camera: never seen in training), in one run:
`shipyard compress` at target bit rates and MS-SSIMs, spatially adaptive and uniform, with the
entropy model, and the bytes Pillow's JPEG and WebP need for the same MS-SSIM (interpolated
over their quality range); each iteration's chunk bytes under LZMA, zlib and the entropy model;
the codec after every iteration through the serving SavedModel's signatures (bpp raw, and as
`shipyard compress --iterations k` codes it); encode / decode megapixels per second of
`shipyard compress` / `decompress` with and without the entropy model, and of the serving
signatures; and optionally the TFLite decoder variants (the mobile bundle's 32×32 decoder step
on LiteRT, one thread) decoding the SavedModel's own codes. Writes
benchmarks/results/image_compression.{json,md,png}.

    python -m benchmarks.image_compression --model DIR   (a pushed serving SavedModel)

The codec it measures can be trained under a wall-clock budget (the Trainer's model, input and
export on the bundled training photos; the held-out photos are never read):

    nice -n 15 python -m benchmarks.image_compression --train-minutes 20 --model DIR
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import io
import json
import time

import numpy as np

from benchmarks import results as benchmark_results

TRAINING_FILE = "benchmark_training.json"
JPEG_QUALITIES = (1, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95)


def jpeg_curve(photo: np.ndarray, fmt: str = "JPEG") -> list[dict[str, float]]:
    """Pillow's `fmt` (JPEG or WebP) over its quality range: bytes, MS-SSIM, PSNR."""
    from PIL import Image

    from models.image_compression import quality

    rows = []
    for q in JPEG_QUALITIES:
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, format=fmt, quality=q)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        rows.append({"quality": q, "bytes": len(buffer.getvalue()),
                     "ms_ssim": quality.ms_ssim(photo, decoded),
                     "psnr": quality.psnr(photo, decoded)})
    return rows


def jpeg_bytes_at(curve: list[dict[str, float]], target: float) -> float | None:
    """JPEG bytes needed to reach MS-SSIM `target`: linear interpolation between the two
    qualities around it on the upper envelope (JPEG's MS-SSIM is not monotone at the lowest
    qualities); None when even quality 95 falls short, or quality 1 already exceeds it."""
    points = sorted((r["bytes"], r["ms_ssim"]) for r in curve)
    envelope, best = [], -1.0
    for size, score in points:
        if score > best:
            envelope.append((size, score))
            best = score
    for (s0, m0), (s1, m1) in zip(envelope, envelope[1:], strict=False):
        if m0 <= target <= m1:
            return s0 + (s1 - s0) * (target - m0) / max(m1 - m0, 1e-12)
    return None


BPP_TARGETS = (0.125, 0.25, 0.5)
QUALITY_TARGETS = (0.85, 0.9, 0.95)


def operating_points(trained, photo: np.ndarray, jpeg: list[dict], webp: list[dict],
                     encoded=None) -> list[dict]:
    """`shipyard compress` (entropy model, best per chunk) at each target bpp and MS-SSIM,
    spatially adaptive and uniform: bytes, MS-SSIM, and JPEG's / WebP's bytes at that MS-SSIM."""
    from models.image_compression import codec, errors

    rows = []
    for kind, targets in (("bpp", BPP_TARGETS), ("quality", QUALITY_TARGETS)):
        for target in targets:
            for adaptive in (True, False):
                setting = {"bpp": target} if kind == "bpp" else {"min_quality": target}
                try:
                    result = codec.compress(trained, photo, adaptive=adaptive,
                                            encoded=encoded, **setting)
                except errors.SettingError:
                    continue
                counts = result.tile_iterations
                jpeg_bytes = jpeg_bytes_at(jpeg, result.ms_ssim)
                webp_bytes = jpeg_bytes_at(webp, result.ms_ssim)
                size = len(result.stream)
                # The same file's tiles without the deblocking filter (with bpp, the same
                # bytes: the level is one header byte either way).
                plain = codec.compress(trained, photo, adaptive=adaptive, deblock=False,
                                       encoded=encoded, **setting)
                rows.append({
                    "target": f"{kind} {target:g}", "adaptive": adaptive, "bytes": size,
                    "bpp": result.bpp, "ms_ssim": result.ms_ssim, "psnr": result.psnr,
                    "iterations": result.iterations,
                    "mean_tile_iterations": float(result.iterations if counts is None
                                                  else np.mean(counts)),
                    "jpeg_bytes": jpeg_bytes, "webp_bytes": webp_bytes,
                    "ratio_jpeg": None if jpeg_bytes is None else size / jpeg_bytes,
                    "ratio_webp": None if webp_bytes is None else size / webp_bytes,
                    "deblocking": result.deblocking,
                    "no_deblocking": {"bytes": len(plain.stream), "ms_ssim": plain.ms_ssim,
                                      "ratio_jpeg": _ratio_at(jpeg, plain)}})
    return rows


def _ratio_at(curve: list[dict], result) -> float | None:
    """The file's bytes ÷ the bytes `curve`'s codec needs for its MS-SSIM."""
    other = jpeg_bytes_at(curve, result.ms_ssim)
    return None if other is None else len(result.stream) / other


def coder_gain(trained, photo: np.ndarray, codes: np.ndarray) -> list[dict]:
    """Bytes of each iteration's chunk (all tiles) under LZMA, zlib, and the entropy model,
    and under its context table alone (without the logistic layer)."""
    from models.image_compression import bitstream, codec, entropy_model

    size = photo.shape[:2]
    table_alone = codec.Codec(trained.model, trained.iterations,
                              entropy_model.ContextModel(trained.entropy.table))
    per_coder = {}
    for coder, coding in (("raw", trained), ("zlib", trained), ("lzma", trained),
                          ("model", trained), ("table", table_alone)):
        stream = coding.write_stream(size, codes, None, "model" if coder == "table" else coder)
        per_coder[coder] = [s - bitstream.CHUNK_HEADER_SIZE
                            for s in bitstream.chunk_sizes(stream)]
    return [{"iteration": t + 1, **{c: per_coder[c][t] for c in per_coder},
             "model_vs_lzma": per_coder["model"][t] / per_coder["lzma"][t]}
            for t in range(trained.iterations)]


def python_speed(trained, photo: np.ndarray, runs: int) -> dict[str, float]:
    """Megapixels per second of `shipyard compress` / `decompress` at every iteration, with
    the entropy model and with LZMA only."""
    from models.image_compression import codec

    megapixels = photo.shape[0] * photo.shape[1] / 1e6
    out = {}
    for coder in ("model", "lzma"):
        stream = codec.compress(trained, photo, coder=coder).stream  # also the warm-up
        codec.decompress(trained, stream)
        start = time.perf_counter()
        for _ in range(runs):
            codec.compress(trained, photo, coder=coder)
        out[f"encode_mp_per_s_{coder}"] = runs * megapixels / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(runs):
            codec.decompress(trained, stream)
        out[f"decode_mp_per_s_{coder}"] = runs * megapixels / (time.perf_counter() - start)
    return out


def uniform_curve(trained, photo: np.ndarray, encoded) -> list[dict]:
    """Every tile k iterations, k = 1..T, from one encoding: bpp raw and as `shipyard compress
    --iterations k` codes it (the best coder per chunk), MS-SSIM, PSNR."""
    from models.image_compression import codec, quality

    codes, reconstructions = encoded
    size = photo.shape[:2]
    grid = codec._grid(*size)
    pixels = size[0] * size[1]
    tiles, _ = codec.to_tiles(photo)
    rows = []
    for k in range(1, len(codes) + 1):
        image = codec.from_tiles(reconstructions[k - 1], grid, size)
        restored = _tile_means_restored(tiles, reconstructions[k - 1], grid, size)
        coded = trained.write_stream(size, codes[:k])
        raw = trained.write_stream(size, codes[:k], None, "raw")
        rows.append({"iterations": k, "bpp": len(coded) * 8 / pixels,
                     "bpp_raw": len(raw) * 8 / pixels, "ms_ssim": quality.ms_ssim(photo, image),
                     "psnr": quality.psnr(photo, image),
                     # A colour or tone shift over the whole photo, which MS-SSIM's coarsest
                     # scale (its luminance term, per channel) punishes and more bits barely fix.
                     "mean_error_rgb": (image.astype(np.float64) - photo).mean(axis=(0, 1))
                     .tolist(),
                     "ms_ssim_tile_means_restored": quality.ms_ssim(photo, restored)})
    return rows


def _tile_means_restored(tiles: np.ndarray, reconstruction: np.ndarray,
                         grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The reconstruction with each tile's mean colour error taken out (the errors spread
    bilinearly between tile centres): what the codec would score if its only flaw were the
    tile means, i.e. the most a per-tile colour side channel could add."""
    from scipy import ndimage

    from models.image_compression import codec

    error = (tiles - reconstruction).mean(axis=(1, 2)).reshape(*grid, 3)
    spread = ndimage.zoom(error, (codec.TILE, codec.TILE, 1), order=1, mode="nearest")
    image = codec.assemble(reconstruction, grid) + spread
    return codec.to_uint8(image[: size[0], : size[1]])


def codec_curve(signatures, photo: np.ndarray, iterations: int, trained=None
                ) -> tuple[list[dict], dict]:
    from models.image_compression import evaluation

    start = time.perf_counter()
    rows = evaluation.rate_distortion(signatures, photo, iterations, trained)
    return rows, {"rd_seconds": time.perf_counter() - start}


def speed(signatures, photo: np.ndarray, iterations: int, runs: int) -> dict[str, float]:
    """Megapixels per second of the serving signatures (after one warm-up call each)."""
    import tensorflow as tf
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(photo).save(png, format="PNG")
    images, its = tf.constant([png.getvalue()]), tf.constant([iterations])
    stream = signatures["encode"](image_bytes=images, iterations=its)["code_bytes"]
    signatures["decode"](code_bytes=stream)
    megapixels = photo.shape[0] * photo.shape[1] / 1e6
    start = time.perf_counter()
    for _ in range(runs):
        signatures["encode"](image_bytes=images, iterations=its)
    encode = runs * megapixels / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(runs):
        signatures["decode"](code_bytes=stream)
    decode = runs * megapixels / (time.perf_counter() - start)
    return {"encode_mp_per_s": encode, "decode_mp_per_s": decode}


def tflite_decoders(trained, variants: list[str]) -> dict[str, bytes]:
    """The mobile bundle's decoder step converted as each variant (models/tflite.py)."""
    from models import tflite
    from models.image_compression import mobile

    step = mobile.trained_step(trained)
    conversions = {"float32": "float32", "float16": "float16", "dynamic": "dynamic"}
    return {v: tflite.convert(step, conversions[v]) for v in variants}


def tflite_figures(model: bytes, gamma: float, photo: np.ndarray, codes: np.ndarray,
                   saved_model_image: np.ndarray, runs: int) -> dict[str, float]:
    """One TFLite variant on one photo: its decode of the SavedModel's codes against the
    SavedModel's own (PSNR between the two, per-tile agreement) and the original, and speed."""
    from models.image_compression import mobile, quality

    decoder = mobile.TFLiteDecoder(model, gamma)
    image = decoder.decode(codes, photo.shape[:2])  # also the warm-up
    start = time.perf_counter()
    for _ in range(runs):
        decoder.decode(codes, photo.shape[:2])
    seconds = (time.perf_counter() - start) / runs
    held_out = mobile.HeldOut([photo], [codes], [saved_model_image], gamma)
    step = mobile.latency(model, held_out, 200)
    ours, reference = mobile.Decoded([image], [photo]), mobile.Decoded([saved_model_image],
                                                                         [photo])
    difference = np.abs(image.astype(int) - saved_model_image.astype(int))
    return {"size_bytes": len(model), "step_p50_ms": step.p50_ms, "step_p90_ms": step.p90_ms,
            "image_seconds": seconds,
            "decode_mp_per_s": photo.shape[0] * photo.shape[1] / 1e6 / seconds,
            "psnr_vs_saved_model": quality.psnr(saved_model_image, image),
            "max_level_difference": int(difference.max()),
            "agreement": mobile.agreement(ours, reference),
            "ms_ssim": quality.ms_ssim(photo, image), "psnr": quality.psnr(photo, image),
            "saved_model_ms_ssim": quality.ms_ssim(photo, saved_model_image),
            "saved_model_psnr": quality.psnr(photo, saved_model_image)}


def wall_clock_cosine(peak: float, seconds: float, alpha: float = 0.1):
    """A Keras callback: the learning rate decays from `peak` to `alpha`·`peak` along a cosine
    over `seconds` of wall-clock time, and training stops when they are up. A step-count
    schedule planned from a timing goes wrong on a shared machine: the 20-minute run of a
    step-planned decay ended at 82 % of its planned steps, its rate still high."""
    import math

    from models.keras2 import keras

    class WallClockCosine(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.monotonic()

        def on_train_batch_begin(self, batch, logs=None):
            done = min(1.0, (time.monotonic() - self.start) / seconds)
            rate = peak * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * done)))
            self.model.optimizer.learning_rate.assign(rate)

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() - self.start > seconds:
                self.model.stop_training = True

    return WallClockCosine()


def train(model_dir: str, minutes: float, iterations: int, batch_size: int,
          learning_rate: float, channel_shuffle: float) -> dict[str, float]:
    """Trains the Trainer's codec (cpu preset, its random-crop input) for `minutes` of wall
    clock on the bundled training photos and exports it as the Trainer does (entropy model
    included). The learning rate follows a cosine over the wall-clock budget
    (`wall_clock_cosine`), whatever the machine's load."""
    import tensorflow as tf

    from models.image_compression import residual_gru as rg
    from models.image_compression import trainer
    from pipelines.image_compression import data as compression_data

    tf.random.set_seed(0)
    photos = [compression_data._bundled_photo(n) for n in compression_data.TRAIN_PHOTOS]
    model = rg.residual_gru_codec("cpu", iterations=iterations, learning_rate=learning_rate)
    dataset = trainer.crop_dataset(photos, batch_size, shuffle=channel_shuffle)
    load_before = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    # More steps than any budget allows: the callback ends the fit.
    history = model.fit(dataset, epochs=1, steps_per_epoch=10 ** 7, verbose=0,
                        callbacks=[wall_clock_cosine(learning_rate, minutes * 60)])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    done = int(model.optimizer.iterations.numpy())
    os.makedirs(model_dir, exist_ok=True)
    model.save_weights(os.path.join(model_dir, "trained.weights.h5"))  # before the export
    start_export = time.perf_counter()
    trainer.export(model, model_dir, trainer.warmup_png(), photos)
    return {"minutes": minutes, "steps": done, "batch_size": batch_size,
            "iterations": iterations, "learning_rate": learning_rate,
            "channel_shuffle": channel_shuffle, "seconds": seconds,
            "patches_per_s": done * batch_size / seconds,
            "patches_per_cpu_s": done * batch_size / cpu,
            "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
            "final_loss": float(history.history["loss"][-1]),
            "export_and_entropy_fit_seconds": time.perf_counter() - start_export}


def training_line(t: dict) -> str:
    """The training figures `train` recorded, as one sentence."""
    load = "" if "load_average_before" not in t else (
        f", load average {t['load_average_before'][0]:.1f} before and "
        f"{t['load_average_after'][0]:.1f} after")
    rate = "" if "learning_rate" not in t else f", learning rate {t['learning_rate']:g}"
    if "channel_shuffle" in t:
        rate += f", colour channels reordered in {t['channel_shuffle']:.0%} of crops"
    per_cpu = ("" if "patches_per_cpu_s" not in t
               else f", {t['patches_per_cpu_s']:.1f} per CPU-second")
    return (f"Codec trained {t['minutes']:g} min: {t['steps']:,} steps of {t['batch_size']} "
            f"crops × {t['iterations']} iterations ({t['patches_per_s']:.1f} patches/s{per_cpu}"
            f"){rate}{load}.")


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def operating_table(per_photo: dict) -> list[str]:
    lines = ["| photo | target | tiles | bytes | bpp | MS-SSIM | PSNR dB | iterations (mean a "
             "tile) | deblocking level | ÷ JPEG | ÷ WebP | without deblocking: bytes, MS-SSIM, "
             "÷ JPEG |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | ---: |"]
    for name, result in per_photo.items():
        for r in result["operating_points"]:
            plain = r["no_deblocking"]
            lines.append(f"| {name.split(':')[1]} | {r['target']} | "
                         f"{'adaptive' if r['adaptive'] else 'uniform'} | {r['bytes']:,} | "
                         f"{r['bpp']:.3f} | {r['ms_ssim']:.4f} | {r['psnr']:.2f} | "
                         f"{r['mean_tile_iterations']:.2f} | {r['deblocking']} | "
                         f"{_ratio(r['ratio_jpeg'])} | {_ratio(r['ratio_webp'])} | "
                         f"{plain['bytes']:,}, {plain['ms_ssim']:.4f}, "
                         f"{_ratio(plain['ratio_jpeg'])} |")
    return lines


def gain_table(per_photo: dict) -> list[str]:
    lines = ["| iteration | raw bytes | zlib | LZMA | context table alone | entropy model "
             "(table + logistic layer) | model ÷ LZMA |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = [result["coder_gain"] for result in per_photo.values()]
    for t in range(len(rows[0])):
        total = {c: sum(r[t][c] for r in rows)
                 for c in ("raw", "zlib", "lzma", "table", "model")}
        lines.append(f"| {t + 1} | {total['raw']:,} | {total['zlib']:,} | {total['lzma']:,} | "
                     f"{total['table']:,} | {total['model']:,} | "
                     f"{total['model'] / total['lzma']:.3f} |")
    return ["Chunk bytes per iteration, all held-out photos together (uniform iterations):",
            ""] + lines


def plot(path: str, codec_rows: list[dict], jpeg_rows: list[dict],
         webp_rows: list[dict] | None = None, operating: list[dict] | None = None) -> None:
    """MS-SSIM vs bpp (mean over photos): codec with / without entropy coding, JPEG, WebP, and
    every photo's `shipyard compress` operating points (adaptive: filled, uniform: hollow)."""
    from PIL import Image, ImageDraw

    width, height, margin = 720, 480, 60
    xmax = max(max(r["bpp_raw"] for r in codec_rows), 1.0)
    ymin = min(0.5, min(r["ms_ssim"] for r in codec_rows + jpeg_rows))
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def xy(bpp: float, score: float) -> tuple[float, float]:
        return (margin + (width - 2 * margin) * min(bpp, xmax) / xmax,
                height - margin - (height - 2 * margin) * (score - ymin) / (1 - ymin))

    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for i in range(5):
        bpp, score = xmax * i / 4, ymin + (1 - ymin) * i / 4
        draw.text((xy(bpp, ymin)[0] - 10, height - margin + 8), f"{bpp:.2f}", fill="black")
        draw.text((8, xy(0, score)[1] - 6), f"{score:.2f}", fill="black")
    draw.text((width // 2 - 60, height - 25), "bits per pixel", fill="black")
    draw.text((margin, 20), "MS-SSIM vs bpp, held-out photos (mean)", fill="black")
    series = [("codec, every tile k its.", "bpp", codec_rows, (200, 30, 30)),
              ("codec, raw bits", "bpp_raw", codec_rows, (240, 150, 150)),
              ("JPEG (Pillow)", "bpp", jpeg_rows, (30, 30, 200))]
    if webp_rows:
        series.append(("WebP (Pillow)", "bpp", webp_rows, (30, 150, 30)))
    for i, (label, key, rows, colour) in enumerate(series):
        points = [xy(r[key], r["ms_ssim"]) for r in sorted(rows, key=lambda r: r[key])]
        draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((width - margin - 150, height - margin - 20 - 16 * i), label, fill=colour)
    for r in operating or []:
        x, y = xy(r["bpp"], r["ms_ssim"])
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=(120, 0, 120),
                     fill=(120, 0, 120) if r["adaptive"] else None)
    if operating:
        draw.text((width - margin - 150, height - margin - 20 - 16 * len(series)),
                  "compress + entropy model, per photo", fill=(120, 0, 120))
    image.save(path)


def main() -> None:
    from models.image_compression import crops

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="serving SavedModel of the codec")
    parser.add_argument("--train-minutes", type=float,
                        help="first train a codec for this long and export it to --model")
    parser.add_argument("--train-only", action="store_true", help="stop after training")
    parser.add_argument("--train-iterations", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--channel-shuffle", type=float, default=crops.SHUFFLE,
                        help="share of training crops with their colour channels reordered")
    parser.add_argument("--refit-entropy", action="store_true",
                        help="fit the codec's entropy model again on the training photos and "
                             "save it (a codec exported by an older version)")
    parser.add_argument("--iterations", type=int, help="default: all the codec has")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per speed figure")
    parser.add_argument("--no-serving", action="store_true",
                        help="skip the serving signatures and TFLite decoders (the per-iteration "
                             "curve is then computed by the codec in Python)")
    parser.add_argument("--tflite-variants", nargs="*", default=["float32", "float16", "dynamic"],
                        choices=["float32", "float16", "dynamic"],
                        help="TFLite decoder variants to measure (none: skip)")
    args = parser.parse_args()
    if args.train_minutes:
        figures = train(args.model, args.train_minutes, args.train_iterations,
                        args.batch_size, args.learning_rate, args.channel_shuffle)
        with open(os.path.join(args.model, TRAINING_FILE), "w") as f:
            json.dump(figures, f, indent=2)
        print(json.dumps(figures))
        if args.train_only:
            return

    import tensorflow as tf

    from models.image_compression import codec, mobile
    from pipelines.image_compression import data as compression_data

    codec_dir = codec.find_model(args.model, "")
    trained = codec.Codec.load(codec_dir)
    if trained.entropy is None or args.refit_entropy:  # older codecs: fit one now
        trained.fit_entropy([compression_data._bundled_photo(n)
                             for n in compression_data.TRAIN_PHOTOS])
        trained.entropy.save(codec_dir)
    iterations = args.iterations or trained.iterations
    signatures = None if args.no_serving else tf.saved_model.load(args.model).signatures
    decoders = {} if args.no_serving else tflite_decoders(trained, args.tflite_variants)
    per_photo, codec_table, jpeg_table, webp_table = {}, [], [], []
    for name in compression_data.EVAL_PHOTOS:
        photo = compression_data._bundled_photo(name)
        pixels = photo.shape[0] * photo.shape[1]
        tiles, _ = codec.to_tiles(photo)
        encoded = trained.encode_tiles(tiles, iterations)
        if args.no_serving:
            rows = uniform_curve(trained, photo, encoded)
        else:
            rows, _ = codec_curve(signatures, photo, iterations, trained)
        jpeg = jpeg_curve(photo)
        webp = jpeg_curve(photo, "WEBP")
        for row in rows:
            target = jpeg_bytes_at(jpeg, row["ms_ssim"])
            ours = row["bpp"] * pixels / 8
            row["jpeg_bytes_at_equal_ms_ssim"] = target
            row["size_ratio"] = None if target is None else ours / target
            row["size_ratio_raw"] = None if target is None else row["bpp_raw"] * pixels / 8 / target
        for row in jpeg + webp:
            row["bpp"] = row["bytes"] * 8 / pixels
        per_photo[name] = {"size": [photo.shape[1], photo.shape[0]], "codec": rows, "jpeg": jpeg,
                           "webp": webp,
                           "operating_points": operating_points(trained, photo, jpeg, webp,
                                                                encoded),
                           "coder_gain": coder_gain(trained, photo, encoded[0]),
                           "python_speed": python_speed(trained, photo, args.runs)}
        print(name, json.dumps(per_photo[name]["operating_points"]), flush=True)
        if args.no_serving:
            continue
        per_photo[name]["speed"] = speed(signatures, photo, iterations, args.runs)
        codes, saved_model_image = mobile.saved_model_codes(signatures, photo, iterations)
        per_photo[name]["tflite"] = {
            variant: tflite_figures(model, trained.model.gamma, photo, codes, saved_model_image,
                                    args.runs) for variant, model in decoders.items()}
    for result in per_photo.values():
        codec_table.append(result["codec"])
        jpeg_table.append(result["jpeg"])
        webp_table.append(result["webp"])

    keys = ("bpp", "bpp_raw", "ms_ssim", "psnr")
    mean_codec = [{k: float(np.mean([p[i][k] for p in codec_table])) for k in keys}
                  for i in range(iterations)]
    mean_jpeg, mean_webp = ([{k: float(np.mean([p[i][k] for p in table]))
                              for k in ("bpp", "ms_ssim", "psnr")}
                             for i in range(len(JPEG_QUALITIES))]
                            for table in (jpeg_table, webp_table))
    lines = operating_table(per_photo) + [""] + gain_table(per_photo) + [""]
    lines += ["| photo | compress MP/s (entropy model / LZMA) | decompress MP/s (entropy model / "
              f"LZMA), {iterations} iterations |", "| --- | ---: | ---: |"]
    for name, result in per_photo.items():
        s = result["python_speed"]
        lines.append(f"| {name.split(':')[1]} | {s['encode_mp_per_s_model']:.3f} / "
                     f"{s['encode_mp_per_s_lzma']:.3f} | {s['decode_mp_per_s_model']:.3f} / "
                     f"{s['decode_mp_per_s_lzma']:.3f} |")
    lines += ["", "Every tile k iterations (the serving signatures' codes): bpp raw, and coded "
              "as `shipyard compress --iterations k` does:", ""]
    lines += ["| photo | k | bpp (coded) | bpp (raw) | MS-SSIM | PSNR dB | mean error R / G / B "
              "(levels) | MS-SSIM, tile means restored | JPEG bytes at equal MS-SSIM | ours ÷ "
              "JPEG (coded) | ours ÷ JPEG (raw) |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, result in per_photo.items():
        for row in result["codec"]:
            ratio = "n/a" if row["size_ratio"] is None else f"{row['size_ratio']:.2f}"
            raw = "n/a" if row["size_ratio_raw"] is None else f"{row['size_ratio_raw']:.2f}"
            jb = row["jpeg_bytes_at_equal_ms_ssim"]
            lines.append(f"| {name.split(':')[1]} | {row['iterations']} | {row['bpp']:.3f} | "
                         f"{row['bpp_raw']:.3f} | {row['ms_ssim']:.4f} | {row['psnr']:.2f} | "
                         f"{' / '.join(f'{e:+.1f}' for e in row['mean_error_rgb'])} | "
                         f"{row['ms_ssim_tile_means_restored']:.4f} | "
                         f"{'n/a' if jb is None else f'{jb:,.0f}'} | {ratio} | {raw} |")
    if not args.no_serving:
        lines += ["", "| photo | encode MP/s | decode MP/s (SavedModel, "
                  f"{iterations} iterations) |", "| --- | ---: | ---: |"]
        for name, result in per_photo.items():
            s = result["speed"]
            lines.append(f"| {name.split(':')[1]} | {s['encode_mp_per_s']:.3f} | "
                         f"{s['decode_mp_per_s']:.3f} |")
    if decoders:
        lines += ["", f"TFLite decoder (32×32 step on LiteRT, 1 thread, {iterations} iterations "
                  "looped on the host) decoding the SavedModel's codes:", "",
                  "| variant | photo | size MB | step p50 / p90 ms | image s | decode MP/s | "
                  "PSNR vs SavedModel dB | max level diff | tiles within 0.5 dB | MS-SSIM "
                  "(SavedModel) | PSNR dB (SavedModel) |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for variant in decoders:
            for name, result in per_photo.items():
                t = result["tflite"][variant]
                lines.append(
                    f"| {variant} | {name.split(':')[1]} | {t['size_bytes'] / 1e6:.3f} | "
                    f"{t['step_p50_ms']:.3f} / {t['step_p90_ms']:.3f} | {t['image_seconds']:.2f} "
                    f"| {t['decode_mp_per_s']:.3f} | {t['psnr_vs_saved_model']:.1f} | "
                    f"{t['max_level_difference']} | {t['agreement']:.3f} | {t['ms_ssim']:.4f} "
                    f"({t['saved_model_ms_ssim']:.4f}) | {t['psnr']:.2f} "
                    f"({t['saved_model_psnr']:.2f}) |")
    training = os.path.join(args.model, TRAINING_FILE)
    if os.path.isfile(training):
        with open(training) as f:
            training = json.load(f)
        lines = [training_line(training), ""] + lines
    else:
        training = None
    table = "\n".join(lines)
    report = {"model": args.model, "model_id": trained.model_id.hex(), "iterations": iterations,
              "training": training, "mean_webp": mean_webp,
              "widths": trained.model.widths.__dict__, "photos": per_photo,
              "mean_codec": mean_codec, "mean_jpeg": mean_jpeg,
              "paper_headline": "≈25 % smaller than JPEG at ≈0.9 MS-SSIM (Toderici et al. 2017)"}
    directory = benchmark_results.write("image_compression", json.loads(json.dumps(
        report, default=list)), table)
    plot(os.path.join(directory, "image_compression.png"), mean_codec, mean_jpeg, mean_webp,
         [r for result in per_photo.values() for r in result["operating_points"]])
    print(table)


if __name__ == "__main__":
    main()

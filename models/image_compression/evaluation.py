"""Rate–distortion evaluation of an exported codec on held-out photos, for the shared
FamilyEvaluator: bits per pixel, MS-SSIM and PSNR after every iteration, next to Pillow's
JPEG at a matched bitrate: JPEG at the codec's byte count is the baseline the codec must beat
(FamilyEvaluator's --min-lift rule).

The SavedModel's own signatures do the coding (encode once with every iteration, decode each
progressive cut), so what is measured is what is served. With a gate rate (`gate_bpp`), the
headline figures and the JPEG baseline are those of `shipyard compress --bpp gate_bpp` on each
photo (spatially adaptive, entropy-coded) against JPEG at the same bytes: a codec is judged
where it is used, not only at its last iteration. Bitrates: `bpp_raw` is the stream as
the signature writes it (packed bits and headers), `bpp` the file `shipyard compress
--iterations k` writes (the smallest of zlib / LZMA / the codec's entropy model per iteration).
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import tensorflow as tf

from models.evaluation_hook import HookResult
from models.examples import read_split
from models.image_compression import bitstream, codec, quality

IMAGE_KEY = "image"


def read_photos(examples_uri: str, split: str, limit: int | None = None) -> list[np.ndarray]:
    """The split's images (encoded bytes of feature `image`) as uint8 RGB arrays."""
    return [tf.io.decode_image(row[IMAGE_KEY][0], channels=3, expand_animations=False).numpy()
            for row in read_split(examples_uri, split, limit)]


def jpeg_at(image: np.ndarray, max_bytes: int) -> tuple[bytes, np.ndarray]:
    """Pillow's JPEG at the highest quality (1–95) that fits in `max_bytes`; quality 1 (the
    smallest it makes) when none fits. Returns the file and its decoded pixels."""
    from PIL import Image

    def encode(q: int) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=q)
        return buffer.getvalue()

    low, high, best = 1, 95, encode(1)
    while low <= high:  # JPEG size grows with quality: binary search
        mid = (low + high) // 2
        data = encode(mid)
        if len(data) <= max_bytes:
            best, low = data, mid + 1
        else:
            high = mid - 1
    return best, np.asarray(Image.open(io.BytesIO(best)).convert("RGB"))


def rate_distortion(signatures: Any, photo: np.ndarray, iterations: int,
                    trained: Any = None) -> list[dict[str, float]]:
    """One row per iteration k: bpp, bpp_raw, ms_ssim, psnr, and JPEG's at the same size.
    With `trained` (the codec.Codec inside the SavedModel), `bpp` lets its entropy model
    compete with the lossless coders, as `shipyard compress` does."""
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(photo).save(png, format="PNG")
    stream = signatures["encode"](image_bytes=tf.constant([png.getvalue()]),
                                  iterations=tf.constant([iterations]))["code_bytes"].numpy()[0]
    header = bitstream.read_header(stream)
    pixels = header.width * header.height
    _, chunks = bitstream.read(stream, _chunk_bytes(stream))
    if trained is not None:
        grid = codec._grid(header.height, header.width)
        codes = np.stack([codec.tile_codes(bitstream.unpack(
            c, grid[0] * 2, grid[1] * 2, trained.model.widths.bits), grid) for c in chunks])
    rows = []
    for k in range(1, iterations + 1):
        cut = bitstream.cut(stream, k)
        decoded = signatures["decode"](code_bytes=tf.constant([cut]))["png_bytes"].numpy()[0]
        image = np.asarray(Image.open(io.BytesIO(decoded)).convert("RGB"))
        if trained is not None:
            coded = trained.write_stream((header.height, header.width), codes[:k])
        else:
            coded = bitstream.write(header, chunks[:k], "best")
        jpeg, jpeg_image = jpeg_at(photo, len(coded))
        rows.append({
            "iterations": k, "bpp": len(coded) * 8 / pixels, "bpp_raw": len(cut) * 8 / pixels,
            "ms_ssim": quality.ms_ssim(photo, image), "psnr": quality.psnr(photo, image),
            "jpeg_bpp": len(jpeg) * 8 / pixels, "jpeg_ms_ssim": quality.ms_ssim(photo, jpeg_image),
            "jpeg_psnr": quality.psnr(photo, jpeg_image)})
    return rows


OPERATING = ["bpp", "ms_ssim", "psnr", "jpeg_bpp", "jpeg_ms_ssim", "jpeg_psnr"]


def operating_point(trained: Any, photo: np.ndarray, bpp: float) -> list[float]:
    """OPERATING figures of `shipyard compress --bpp` on `photo` (the one-iteration file when
    even that exceeds `bpp`), and of JPEG at its byte count."""
    try:
        result = codec.compress(trained, photo, bpp=bpp)
    except codec.SettingError:
        result = codec.compress(trained, photo, iterations=1)
    jpeg, jpeg_image = jpeg_at(photo, len(result.stream))
    pixels = photo.shape[0] * photo.shape[1]
    return [result.bpp, result.ms_ssim, result.psnr, len(jpeg) * 8 / pixels,
            quality.ms_ssim(photo, jpeg_image), quality.psnr(photo, jpeg_image)]


def _chunk_bytes(stream: bytes) -> int:
    """Packed bytes per iteration of a raw-chunk stream (the signature writes raw chunks)."""
    return bitstream.chunk_sizes(stream)[0] - bitstream.CHUNK_HEADER_SIZE


FIGURES = ["iterations", "bpp", "bpp_raw", "ms_ssim", "psnr", "jpeg_bpp", "jpeg_ms_ssim",
           "jpeg_psnr"]


def evaluate(serving_model_dir: str, examples_uri: str, split: str,
             config: dict[str, Any]) -> HookResult:
    """Rate–distortion of the codec on the split's photos (`summarize`), with Pillow's JPEG at
    the codec's byte count as the baseline the codec must beat to be blessed."""
    loaded = tf.saved_model.load(serving_model_dir)
    trained = codec.Codec.load(codec.find_model(serving_model_dir, ""))
    iterations = int(config.get("iterations", 8))
    photos = read_photos(examples_uri, split, config.get("limit"))
    if not photos:
        raise ValueError(f"no photos in split {split!r} of {examples_uri}")
    table = np.array([[[row[name] for name in FIGURES]
                       for row in rate_distortion(loaded.signatures, p, iterations, trained)]
                      for p in photos])  # photos × iterations × figures
    gate_bpp = config.get("gate_bpp")
    if not gate_bpp:
        return summarize(table)
    operating = np.array([operating_point(trained, p, gate_bpp) for p in photos])
    return summarize(table, operating, gate_bpp)


def summarize(table: np.ndarray, operating: np.ndarray | None = None,
              gate_bpp: float | None = None) -> HookResult:
    """From a photos × iterations × FIGURES table: the mean over photos of every iteration's
    figures (`<name>_k<k>`), the headline figures at the last iteration (`ms_ssim`, `psnr`,
    `bpp`, `bpp_raw`, `jpeg_*`), and `ms_ssim_falls` / `psnr_falls`: how many times, over all
    photos, an iteration decoded to a worse image than the one before it (0 for a codec that
    decodes progressively). The `jpeg` baseline is JPEG's ms_ssim, psnr and bpp at the last
    iteration's byte count: equal bytes, same photos. With `operating` (photos × OPERATING,
    the files made for `gate_bpp`), the headline and the baseline are their means instead,
    with `gate_bpp` and `photos_beating_jpeg` (photos whose MS-SSIM is above JPEG's)."""
    iterations = table.shape[1]
    mean = table.mean(axis=0)
    metrics: dict[str, float] = {"photos": float(table.shape[0])}
    for k in range(iterations):
        for j, name in enumerate(FIGURES[1:], start=1):
            metrics[f"{name}_k{k + 1}"] = float(mean[k, j])
    for j, name in enumerate(FIGURES[1:], start=1):
        metrics[name] = float(mean[-1, j])
    if operating is not None:
        for j, name in enumerate(OPERATING):
            metrics[name] = float(operating[:, j].mean())
        metrics["gate_bpp"] = float(gate_bpp)
        ours, theirs = (operating[:, OPERATING.index(n)] for n in ("ms_ssim", "jpeg_ms_ssim"))
        metrics["photos_beating_jpeg"] = float(np.sum(ours > theirs))
    for name in ("ms_ssim", "psnr"):
        # Progressive decoding's promise: another iteration never costs quality. Counted per
        # photo, since a mean can hide one photo getting worse.
        figure = table[:, :, FIGURES.index(name)]
        metrics[f"{name}_falls"] = float(np.sum(figure[:, 1:] < figure[:, :-1]))
    jpeg = {name: metrics[f"jpeg_{name}"] for name in ("ms_ssim", "psnr", "bpp")}
    return HookResult(metrics, baselines={"jpeg": jpeg})

"""The image-compression family's mobile hook (`HOOK`): a TFLite decoder for phones.

What converts is one decoder step on a 32×32 tile, D_t: `bits` (1, 2, 2, 32) and the four
ConvGRU states → `image` (the step's output) and the next states. The recurrence lives on the
host, as in the codec (models/image_compression/codec.py): the app feeds each iteration's
codes with the states the previous step returned (zeros at the first) and adds the outputs,
x̂_t = D_t(b_t) + γ·x̂_{t-1}, tile by tile; an image is its 32×32 tiles, edge-padded and
cropped back. Everything the app needs besides the .tflite is in the bundle's `decoder.json`.

The fidelity gate measures what a phone shows: the held-out photos are coded by the serving
SavedModel's `encode` signature (the bits a phone would receive), decoded by each TFLite
variant at the codec's full iteration count, and scored with MS-SSIM (what the Evaluator
blesses on) against the originals, next to the SavedModel's own `decode` of the same bits.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
from typing import Any

import numpy as np
import tensorflow as tf

from models import tflite
from models.artifacts import SERVING_DIR
from models.image_compression import bitstream, codec, deblocking, evaluation, quality
from models.image_compression import residual_gru as rg
from models.keras2 import keras
from models.mobile_hook import MobileHook

METRIC = "ms_ssim"
TILE = codec.TILE
# A tile agrees when the phone's reconstruction is within this many dB of PSNR (against the
# original) of the SavedModel's: about what the 4th iteration adds on the trained cpu model
# (mean held-out gains 2.66, 1.03, 0.56, 0.35 … 0.06 dB for iterations 2–8), so a tile that
# agrees is not an iteration's worth worse or better; float32 and float16 differ by ≤ 0.03 dB.
AGREEMENT_DB = 0.5
BUNDLE_FILE = "decoder.json"
BUNDLE_FORMAT = "shipyard-residual-gru-decoder"
# Tiles per invoke: 8–32 ran ~20 % faster per tile than 1 or 256 on the shared 2 cores (probe).
TILE_BATCH = 32
STATE_INPUTS = tuple(f"decoder_state_{i}" for i in range(1, 5))
STATE_OUTPUTS = tuple(f"next_decoder_state_{i}" for i in range(1, 5))


@dataclasses.dataclass
class HeldOut:
    """The gate's eval rows: held-out photos, and once `prepare_split` has run, the SavedModel's
    codes of each (iterations, tiles, 2, 2, 32) and its decoded images."""

    photos: list[np.ndarray]
    codes: list[np.ndarray] | None = None
    decoded: list[np.ndarray] | None = None
    gamma: float = 1.0

    def __len__(self) -> int:
        return len(self.photos)


@dataclasses.dataclass
class Decoded:
    """Decoded images (uint8), with the originals they were coded from (for per-tile PSNR)."""

    images: list[np.ndarray]
    photos: list[np.ndarray]


def codec_dir(model_uri: str) -> str:
    """The codec's weights and codec.json inside the Trainer's serving SavedModel."""
    return os.path.join(model_uri, SERVING_DIR, codec.SAVED_MODEL_SUBDIR)


def decoder_step(widths: rg.Widths, residual: bool = True) -> keras.Model:
    """One decoder iteration on a 32×32 tile with named inputs and outputs (the TFLite
    signature an app calls): bits, decoder_state_1..4 → image, next_decoder_state_1..4."""
    decoder = rg.decoder(widths, residual, height=TILE, width=TILE)
    image, *states = decoder(decoder.inputs)
    outputs = [keras.layers.Identity(name="image")(image)]
    outputs += [keras.layers.Identity(name=name)(s) for name, s in zip(STATE_OUTPUTS, states,
                                                                       strict=True)]
    return keras.Model(decoder.inputs, outputs, name="decoder_step")


def trained_step(trained: codec.Codec) -> keras.Model:
    """A trained codec's decoder as a 32×32 step model (what TFLite converts)."""
    step = decoder_step(trained.model.widths, trained.model.residual)
    step.get_layer("decoder").set_weights(trained.model.decoder.get_weights())
    return step


def load_model(model_uri: str) -> keras.Model:
    """The Trainer's decoder as a 32×32 step model."""
    return trained_step(codec.Codec.load(codec_dir(model_uri)))


def load_split(transform_graph_uri: str | None, examples_uri: str, split: str,
               limit: int | None = None, model_uri: str | None = None
               ) -> tuple[HeldOut, list[np.ndarray]]:
    """(the split's photos to code, the same photos as the reference pixels)."""
    photos = evaluation.read_photos(examples_uri, split, limit)
    if not photos:
        raise ValueError(f"no photos in split {split!r} of {examples_uri}")
    return HeldOut(photos), photos


def saved_model_codes(signatures: Any, photo: np.ndarray, iterations: int, bits: int = 32
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(codes (iterations, tiles, 2, 2, 32) ±1, decoded uint8 image) of one photo, both from
    the serving SavedModel: its `encode` stream, unpacked, and its `decode` of that stream."""
    stream = signatures["encode"](image_bytes=tf.constant([codec.png_bytes(photo)]),
                                  iterations=tf.constant([iterations]))["code_bytes"].numpy()[0]
    height, width = photo.shape[:2]
    grid = codec._grid(height, width)
    _, chunks = bitstream.read(stream, grid[0] * grid[1] * 4 * bits // 8)
    codes = np.stack([codec.tile_codes(bitstream.unpack(c, grid[0] * 2, grid[1] * 2, bits), grid)
                      for c in chunks])
    png = signatures["decode"](code_bytes=tf.constant([stream]))["png_bytes"].numpy()[0]
    return codes, np.asarray(_open_png(png))


def _open_png(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB")


def codec_config(model_uri: str) -> dict[str, Any]:
    with open(os.path.join(codec_dir(model_uri), codec.CONFIG_FILE)) as f:
        return json.load(f)


def prepare_split(model_uri: str, x: HeldOut) -> HeldOut:
    """Codes every photo with the SavedModel at the codec's full iteration count."""
    config = codec_config(model_uri)
    signatures = tf.saved_model.load(os.path.join(model_uri, SERVING_DIR)).signatures
    coded = [saved_model_codes(signatures, p, config["iterations"], config["widths"]["bits"])
             for p in x.photos]
    return HeldOut(x.photos, [c for c, _ in coded], [d for _, d in coded], config["gamma"])


def reference_predict(keras_model: keras.Model, x: HeldOut) -> Decoded:
    """The SavedModel's own decoded images (what the served codec shows)."""
    return Decoded(x.decoded, x.photos)


class TFLiteDecoder:
    """Runs a decoder-step .tflite the way an app does: all tiles of an image as one batch,
    the states carried from step to step, x̂_t = D_t(b_t) + γ·x̂_{t-1} on the host."""

    def __init__(self, model: bytes, gamma: float, threads: int = 1,
                 tile_batch: int = TILE_BATCH) -> None:
        self.interpreter = tflite.interpreter(model, threads)
        self.runner = self.interpreter.get_signature_runner()
        self.gamma = gamma
        self.tile_batch = tile_batch
        self.state_shapes = {name: detail["shape"][1:]
                             for name, detail in self.runner.get_input_details().items()}

    def step(self, bits: np.ndarray, states: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        out = self.runner(bits=bits.astype(np.float32),
                          **dict(zip(STATE_INPUTS, states, strict=True)))
        return out["image"], [out[name] for name in STATE_OUTPUTS]

    def zero_states(self, n: int) -> list[np.ndarray]:
        return [np.zeros([n, *self.state_shapes[name]], np.float32) for name in STATE_INPUTS]

    def decode_tiles(self, codes: np.ndarray) -> np.ndarray:
        """Codes (T, N, 2, 2, 32) → reconstructions (T, N, 32, 32, 3) after each iteration."""
        return np.concatenate([self._decode_batch(codes[:, start: start + self.tile_batch])
                               for start in range(0, codes.shape[1], self.tile_batch)], axis=1)

    def _decode_batch(self, codes: np.ndarray) -> np.ndarray:
        states = self.zero_states(codes.shape[1])
        reconstruction = np.zeros([codes.shape[1], TILE, TILE, 3], np.float32)
        images = []
        for bits in codes:
            decoded, states = self.step(bits, states)
            reconstruction = decoded + self.gamma * reconstruction
            images.append(reconstruction)
        return np.stack(images)

    def decode(self, codes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Codes of an image's tiles → the uint8 image (H, W, 3) after the last iteration."""
        return codec.from_tiles(self.decode_tiles(codes)[-1], codec._grid(*size), size)


def decompress(model: bytes, info: dict[str, Any], stream: bytes,
               threads: int = 1) -> np.ndarray:
    """A .rgc stream → the uint8 image, from the mobile bundle alone (the .tflite and its
    decoder.json): what an app does, and what the tests hold against `shipyard decompress`."""
    header = bitstream.read_header(stream)
    if header.model_id.hex() != info["model_id"]:
        raise bitstream.FormatError(f"this file was made by codec {header.model_id.hex()}, not "
                                    f"by this decoder's ({info['model_id']})")
    if header.tile_iterations is not None:
        raise bitstream.FormatError("this .rgc file gives its tiles their own iteration counts, "
                                    "which the mobile decoder does not read; write it with "
                                    "`shipyard compress --iterations K`")
    grid = codec._grid(header.height, header.width)
    bits = info["code_shape"][-1]
    _, chunks = bitstream.read(stream, grid[0] * grid[1] * 4 * bits // 8)
    codes = np.stack([codec.tile_codes(bitstream.unpack(c, grid[0] * 2, grid[1] * 2, bits), grid)
                      for c in chunks])
    return codec.finish_image(
        TFLiteDecoder(model, info["gamma"], threads).decode_tiles(codes)[-1], header)


def tflite_predict(model: bytes, x: HeldOut) -> Decoded:
    """Each photo decoded on LiteRT from the SavedModel's codes."""
    decoder = TFLiteDecoder(model, x.gamma)
    return Decoded([decoder.decode(codes, photo.shape[:2])
                    for codes, photo in zip(x.codes, x.photos, strict=True)], x.photos)


def metric(decoded: Decoded, photos: list[np.ndarray]) -> float:
    """Mean MS-SSIM of the decoded images against the originals."""
    return float(np.mean([quality.ms_ssim(p, i)
                          for p, i in zip(photos, decoded.images, strict=True)]))


def tile_psnrs(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """PSNR of every 32×32 tile (the edge tiles as far as the image goes), capped at 100 dB."""
    values = []
    for top in range(0, image.shape[0], TILE):
        for left in range(0, image.shape[1], TILE):
            values.append(min(100.0, quality.psnr(reference[top: top + TILE, left: left + TILE],
                                                  image[top: top + TILE, left: left + TILE])))
    return np.asarray(values)


def tile_agreement(decoded: Decoded, reference: Decoded) -> np.ndarray:
    """Per tile of every photo: is its PSNR (against the original) within AGREEMENT_DB of the
    reference's?"""
    return np.concatenate([np.abs(tile_psnrs(i, p) - tile_psnrs(r, p)) <= AGREEMENT_DB
                           for i, r, p in zip(decoded.images, reference.images, decoded.photos,
                                              strict=True)])


def agreement(decoded: Decoded, reference: Decoded) -> float:
    """Share of held-out tiles whose TFLite reconstruction is within 0.5 dB PSNR (against the
    original) of the SavedModel's decode of the same codes."""
    return float(np.mean(tile_agreement(decoded, reference)))


def latency(model: bytes, x: HeldOut, runs: int) -> tflite.Latency:
    """One decoder step on one tile (batch 1, one thread), real codes, zero states first."""
    import time

    decoder = TFLiteDecoder(model, x.gamma)
    bits = x.codes[0][:, :1]
    states = decoder.zero_states(1)
    for t in range(min(3, len(bits))):  # warm-up, and realistic (non-zero) states
        _, states = decoder.step(bits[t], states)
    times = []
    for _ in range(max(runs, 1)):
        start = time.perf_counter()
        decoder.step(bits[-1], states)
        times.append((time.perf_counter() - start) * 1e3)
    return tflite.Latency(float(np.percentile(times, 50)), float(np.percentile(times, 90)),
                          len(times))


def bundle_files(transform_graph_uri: str | None, model_uri: str) -> dict[str, bytes]:
    """decoder.json: what an app needs to turn a .rgc file into pixels with the .tflite."""
    config = codec_config(model_uri)
    widths = config["widths"]
    states = rg.decoder_state_shapes(rg.Widths.from_dict(widths), TILE, TILE)
    info = {
        "format": BUNDLE_FORMAT, "rgc_version": bitstream.VERSION,
        "rgc_magic_hex": bitstream.MAGIC.hex(), "model_id": config["model_id"],
        "patch_size": TILE, "bits_per_tile_per_iteration": 4 * widths["bits"],
        "bits_per_pixel_per_iteration": 4 * widths["bits"] / TILE ** 2,
        "code_shape": [2, 2, widths["bits"]], "iterations": config["iterations"],
        "gamma": config["gamma"],
        "inputs": {"bits": [2, 2, widths["bits"]],
                   **{name: list(s) for name, s in zip(STATE_INPUTS, states, strict=True)}},
        "outputs": {"image": [TILE, TILE, 3],
                    **{name: list(s) for name, s in zip(STATE_OUTPUTS, states, strict=True)}},
        "chunk_coders": {str(v): k for k, v in bitstream.CODERS.items()},
        "howto": [
            "check the .rgc header: magic, rgc_version, model_id; read width, height",
            "version 2 headers add flags (1 byte) and an entropy-model id (4) before the "
            "checksum, version 3 a deblocking level (1) after them; version 1 files lack all "
            "three. This bundle reads flag bit 0 clear (every tile every iteration) and the "
            "chunk_coders below (`shipyard compress --iterations K --coder lzma` writes such "
            "files)",
            "tiles: the image edge-padded to multiples of patch_size, row-major",
            "per chunk: unpack bits MSB first as bit-planes (channel, row, col) of the code map "
            "(rows = 2·tile rows, cols = 2·tile cols); bit 1 → +1.0, 0 → -1.0; the tile at "
            "(r, c) takes code rows 2r..2r+1, cols 2c..2c+1",
            "states start at zeros; feed each step's next_decoder_state_i back as "
            "decoder_state_i",
            "reconstruction = image + gamma · previous reconstruction (starts at zeros)",
            "flag bit 1 (grey): replace each channel of the reconstruction with the mean of "
            "the three",
            "pixel = clip(round((reconstruction + 0.5) · 255), 0, 255); crop to width × height",
            "deblocking level L > 0: (width, strength) = deblocking.levels[L − 1]; at every "
            "tile edge inside the image, first the horizontal edges then the vertical ones, "
            "per channel: step = first pixel after the edge − last before; change = strength "
            "· max(0, 1 − |step| / deblocking.threshold) · step; the i-th pixel from the edge "
            "on either side (i = 0 .. width−1) moves by change · (width − i) / (2·width + 1) "
            "toward the other side; then round and clip to 0..255",
        ],
        "deblocking": {"threshold": deblocking.THRESHOLD,
                       "levels": [list(level) for level in deblocking.LEVELS]},
    }
    return {BUNDLE_FILE: json.dumps(info, indent=2).encode()}


class ImageCompressionMobile(MobileHook):
    """One decoder step on a 32×32 tile (the default conversion of that Keras model), the
    recurrence on the host; scored on MS-SSIM of the SavedModel's codes decoded on LiteRT."""

    # The module's functions stay its API (tests, benchmarks and the README use them); the
    # class says which of them implement the hook.
    metric_name = METRIC
    load_model = staticmethod(load_model)
    load_split = staticmethod(load_split)
    metric = staticmethod(metric)
    prepare_split = staticmethod(prepare_split)
    bundle_files = staticmethod(bundle_files)
    reference_predict = staticmethod(reference_predict)
    tflite_predict = staticmethod(tflite_predict)
    latency = staticmethod(latency)
    agreement = staticmethod(agreement)


HOOK = ImageCompressionMobile()

"""The Residual-GRU codec for whole images: tiling, rate control and the .rgc file.

An image of any size is padded (edge pixels repeated) to a multiple of 32, cut into 32×32
tiles (the patch size the model trained on: tiled inference scored higher than running the
model over the whole image), coded tile by tile for k iterations, and the codes
are laid out as one (H/16, W/16, 32) bit map per iteration, so each iteration costs exactly
H·W/8 bits of the padded image before entropy coding. Decoding crops back to the original size.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from models.image_compression import bitstream, quality
from models.image_compression import residual_gru as rg
from models.image_compression.errors import CodecError, ModelNotFound, SettingError
from serving.core.versions import list_versions

TILE = rg.PATCH
MIN_SIDE = 16  # one code cell covers 16×16 pixels: a smaller image is mostly padding
MAX_SIDE = 1 << 15
CONFIG_FILE = "codec.json"
FORMAT = "shipyard-residual-gru-codec"
# Where the Trainer puts the codec inside the serving SavedModel (pushed with it).
SAVED_MODEL_SUBDIR = os.path.join("assets.extra", "codec")
TILE_BATCH = 256
def _weights_id(model: rg.ResidualGRUCodec) -> bytes:
    digest = hashlib.sha256()
    for weight in model.encoder.weights + model.decoder.weights:
        digest.update(weight.numpy().tobytes())
    return digest.digest()[:8]


class Codec:
    """A trained ResidualGRUCodec with its identity, coding tiles and images."""

    def __init__(self, model: rg.ResidualGRUCodec, iterations: int | None = None) -> None:
        self.model = model
        self.iterations = iterations or model.iterations
        self.model_id = _weights_id(model)
        widths = model.widths
        tile_states = rg.encoder_state_shapes(widths, TILE, TILE)
        dec_states = rg.decoder_state_shapes(widths, TILE, TILE)
        self._encoder_step = tf.function(
            lambda residual, states: model.encoder([residual, *states], training=False),
            input_signature=[tf.TensorSpec([None, TILE, TILE, 3]),
                             [tf.TensorSpec([None, *s]) for s in tile_states]])
        self._decoder_step = tf.function(
            lambda bits, states: model.decoder([bits, *states], training=False),
            input_signature=[tf.TensorSpec([None, 2, 2, widths.bits]),
                             [tf.TensorSpec([None, *s]) for s in dec_states]])

    # -- saving and loading -------------------------------------------------------------
    def save(self, directory: str) -> None:
        """codec.json (widths, γ, iterations, model id) and the encoder / decoder weights."""
        os.makedirs(directory, exist_ok=True)
        self.model.encoder.save_weights(os.path.join(directory, "encoder.weights.h5"))
        self.model.decoder.save_weights(os.path.join(directory, "decoder.weights.h5"))
        config = {"format": FORMAT, "version": 1, "model_id": self.model_id.hex(),
                  "iterations": self.iterations, "gamma": self.model.gamma,
                  "residual": self.model.residual,
                  "widths": dataclasses.asdict(self.model.widths)}
        with open(os.path.join(directory, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2)

    @classmethod
    def load(cls, directory: str) -> Codec:
        path = os.path.join(directory, CONFIG_FILE)
        try:
            with open(path) as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise CodecError(f"not a codec model directory: {directory} ({e})") from None
        if config.get("format") != FORMAT:
            raise CodecError(f"not a codec model directory: {directory} (wrong format)")
        w = config["widths"]
        widths = rg.Widths(w["encoder_conv"], tuple(w["encoder_grus"]), w["bits"],
                           w["decoder_conv"], tuple(w["decoder_grus"]))
        model = rg.ResidualGRUCodec(widths, iterations=config["iterations"],
                                    gamma=config["gamma"], residual=config["residual"])
        model.encoder.load_weights(os.path.join(directory, "encoder.weights.h5"))
        model.decoder.load_weights(os.path.join(directory, "decoder.weights.h5"))
        codec = cls(model, config["iterations"])
        if codec.model_id.hex() != config["model_id"]:
            raise CodecError(f"codec weights in {directory} do not match its codec.json")
        return codec

    # -- tiles ----------------------------------------------------------------------------
    def _zero_states(self, n: int, shapes) -> list[tf.Tensor]:
        return [tf.zeros([n, *s]) for s in shapes]

    def encode_tiles(self, tiles: np.ndarray, iterations: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Tiles (N, 32, 32, 3) in [-0.5, 0.5] → codes (T, N, 2, 2, 32) as ±1 and the
        reconstructions (T, N, 32, 32, 3) after each iteration."""
        codes, images = [], []
        for start in range(0, len(tiles), TILE_BATCH):
            c, r = self._encode_batch(tf.constant(tiles[start: start + TILE_BATCH]),
                                      iterations)
            codes.append(c)
            images.append(r)
        return np.concatenate(codes, axis=1), np.concatenate(images, axis=1)

    def _encode_batch(self, x: tf.Tensor, iterations: int) -> tuple[np.ndarray, np.ndarray]:
        n = int(x.shape[0])
        enc = self._zero_states(n, rg.encoder_state_shapes(self.model.widths, TILE, TILE))
        dec = self._zero_states(n, rg.decoder_state_shapes(self.model.widths, TILE, TILE))
        reconstruction, residual = tf.zeros_like(x), x
        codes, images = [], []
        for _ in range(iterations):
            bits, *enc = self._encoder_step(residual, enc)
            decoded, *dec = self._decoder_step(bits, dec)
            reconstruction = decoded + self.model.gamma * reconstruction
            residual = x - reconstruction
            codes.append(bits.numpy())
            images.append(reconstruction.numpy())
        return np.stack(codes), np.stack(images)

    def decode_tiles(self, codes: np.ndarray) -> np.ndarray:
        """Codes (T, N, 2, 2, 32) → reconstructions (T, N, 32, 32, 3) after each iteration."""
        out = []
        for start in range(0, codes.shape[1], TILE_BATCH):
            batch = codes[:, start: start + TILE_BATCH]
            dec = self._zero_states(batch.shape[1],
                                    rg.decoder_state_shapes(self.model.widths, TILE, TILE))
            reconstruction = tf.zeros([batch.shape[1], TILE, TILE, 3])
            images = []
            for bits in batch:
                decoded, *dec = self._decoder_step(tf.constant(bits), dec)
                reconstruction = decoded + self.model.gamma * reconstruction
                images.append(reconstruction.numpy())
            out.append(np.stack(images))
        return np.concatenate(out, axis=1)

    # -- images ---------------------------------------------------------------------------
    def encode(self, image: np.ndarray, iterations: int | None = None
               ) -> tuple[list[bytes], np.ndarray]:
        """uint8 image (H, W, 3) → packed bits of each iteration, and the decoded images
        (T, H, W, 3) uint8 after each iteration (what the receiver will see)."""
        iterations = iterations or self.iterations
        check_size(*image.shape[:2])
        tiles, grid = to_tiles(image)
        codes, reconstructions = self.encode_tiles(tiles, iterations)
        packed = [bitstream.pack(code_map(c, grid)) for c in codes]
        return packed, np.stack([from_tiles(r, grid, image.shape[:2]) for r in reconstructions])

    def decode(self, chunks: list[bytes], height: int, width: int) -> np.ndarray:
        """Packed bits of k iterations → the uint8 image after the k-th."""
        grid = _grid(height, width)
        rows, cols = grid[0] * 2, grid[1] * 2
        codes = np.stack([tile_codes(bitstream.unpack(c, rows, cols, self.model.widths.bits),
                                     grid) for c in chunks])
        return from_tiles(self.decode_tiles(codes)[-1], grid, (height, width))

    def chunk_bytes(self, height: int, width: int) -> int:
        """Packed bytes of one iteration of an image: (padded H·W)/8 at 32 bits per code."""
        grid = _grid(height, width)
        return grid[0] * grid[1] * 4 * self.model.widths.bits // 8


# -- tiling ---------------------------------------------------------------------------------
def check_size(height: int, width: int) -> None:
    if min(height, width) < MIN_SIDE:
        raise CodecError(f"image too small: {width}×{height} (the codec needs at least "
                            f"{MIN_SIDE}×{MIN_SIDE} pixels)")
    if max(height, width) > MAX_SIDE:
        raise CodecError(f"image too large: {width}×{height} (at most {MAX_SIDE} pixels a "
                            "side)")


def _grid(height: int, width: int) -> tuple[int, int]:
    return -(-height // TILE), -(-width // TILE)


def to_tiles(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 (H, W, 3) → float tiles (N, 32, 32, 3) in [-0.5, 0.5], row-major, edge-padded."""
    height, width = image.shape[:2]
    grid = _grid(height, width)
    padded = np.pad(image, ((0, grid[0] * TILE - height), (0, grid[1] * TILE - width), (0, 0)),
                    mode="edge").astype(np.float32) / 255.0 - 0.5
    tiles = padded.reshape(grid[0], TILE, grid[1], TILE, 3).transpose(0, 2, 1, 3, 4)
    return tiles.reshape(-1, TILE, TILE, 3), grid


def from_tiles(tiles: np.ndarray, grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Float tiles → the uint8 image, cropped back to `size`."""
    image = tiles.reshape(grid[0], grid[1], TILE, TILE, 3).transpose(0, 2, 1, 3, 4)
    image = image.reshape(grid[0] * TILE, grid[1] * TILE, 3)[: size[0], : size[1]]
    return np.clip(np.round((image + 0.5) * 255.0), 0, 255).astype(np.uint8)


def code_map(codes: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per-tile codes (N, 2, 2, C) → the image's code map (rows·2, cols·2, C)."""
    c = codes.shape[-1]
    return codes.reshape(grid[0], grid[1], 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(
        grid[0] * 2, grid[1] * 2, c)


def tile_codes(codes: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The inverse of code_map."""
    c = codes.shape[-1]
    return codes.reshape(grid[0], 2, grid[1], 2, c).transpose(0, 2, 1, 3, 4).reshape(-1, 2, 2, c)


# -- files ----------------------------------------------------------------------------------
def read_image(path: str) -> np.ndarray:
    """An image file as uint8 RGB (grey and palette images are converted; alpha is dropped)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            rgb = np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise CodecError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise CodecError(f"cannot read image {path}: {e}") from None
    check_size(*rgb.shape[:2])
    return rgb


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_atomic(path: str, data: bytes) -> None:
    """Writes all of `data` or nothing: a temporary file beside `path`, renamed over it."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CodecError(f"output folder does not exist: {directory}")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_stream(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CodecError(f"cannot read {path}: {e.strerror}") from None


# -- rate control ---------------------------------------------------------------------------
@dataclasses.dataclass
class Compressed:
    stream: bytes
    iterations: int
    bpp: float
    ms_ssim: float
    psnr: float


def compress(codec: Codec, image: np.ndarray, iterations: int | None = None,
             bpp: float | None = None, min_quality: float | None = None,
             coder: str = "best") -> Compressed:
    """Encodes `image` for a number of iterations, the most that fit in `bpp` (file bits per
    pixel, header and entropy coding included), or the fewest reaching MS-SSIM `min_quality`
    (the most the codec has when none does)."""
    if sum(x is not None for x in (iterations, bpp, min_quality)) > 1:
        raise CodecError("give one of iterations, bpp, min_quality")
    if iterations is not None and not 1 <= iterations <= codec.iterations:
        raise SettingError("iterations", f"must be in 1..{codec.iterations} for this codec, "
                                         f"got {iterations}")
    if bpp is not None and bpp <= 0:
        raise SettingError("bpp", f"must be positive, got {bpp}")
    if min_quality is not None and not 0 < min_quality <= 1:
        raise SettingError("min_quality", f"(MS-SSIM) must be in (0, 1], got {min_quality}")
    height, width = image.shape[:2]
    header = bitstream.Header(width, height, 0, codec.model_id)
    chunks, decoded = codec.encode(image, iterations or codec.iterations)
    full = bitstream.write(header, chunks, coder)
    k = len(chunks)
    if bpp is not None:
        sizes = np.cumsum(bitstream.chunk_sizes(full)) + bitstream.HEADER_SIZE
        fitting = np.nonzero(sizes * 8 / (height * width) <= bpp)[0]
        if not len(fitting):
            raise SettingError("bpp", f"{bpp:g} is below this image's smallest file "
                                      f"({sizes[0] * 8 / (height * width):.3f} bpp, 1 "
                                      "iteration)")
        k = int(fitting[-1]) + 1
    elif min_quality is not None:
        for k in range(1, len(chunks) + 1):
            if quality.ms_ssim(image, decoded[k - 1]) >= min_quality:
                break
    # Rewritten rather than cut, so that the header says how many iterations the file holds.
    stream = bitstream.write(header, chunks[:k], coder) if k < len(chunks) else full
    return Compressed(stream, k, len(stream) * 8 / (height * width),
                      quality.ms_ssim(image, decoded[k - 1]), quality.psnr(image, decoded[k - 1]))


def decompress(codec: Codec, stream: bytes) -> tuple[np.ndarray, bitstream.Header, int]:
    """(image, header, iterations decoded): fewer than the header's when the stream was cut."""
    header = bitstream.read_header(stream)
    if header.model_id != codec.model_id:
        raise CodecError(f"this file was made by codec {header.model_id.hex()}, not by the "
                            f"loaded one ({codec.model_id.hex()}); pass that codec's --model DIR")
    _, chunks = bitstream.read(stream, codec.chunk_bytes(header.height, header.width))
    if len(chunks) > codec.iterations:
        raise CodecError(f"the file holds {len(chunks)} iterations, the codec decodes at "
                            f"most {codec.iterations}")
    return codec.decode(chunks, header.height, header.width), header, len(chunks)


# -- finding a trained codec ----------------------------------------------------------------
def find_model(model_dir: str | None, output_dir: str) -> str:
    """The codec directory: `model_dir` (a codec directory, a serving SavedModel holding one,
    or a serving base of numbered versions: the newest), else the newest pushed codec."""
    base = model_dir or os.path.join(output_dir, "serving", "image_compression")
    for candidate in (base, os.path.join(base, SAVED_MODEL_SUBDIR)):
        if os.path.isfile(os.path.join(candidate, CONFIG_FILE)):
            return candidate
    versions = list_versions(base)
    for version in sorted(versions, reverse=True):
        candidate = os.path.join(versions[version], SAVED_MODEL_SUBDIR)
        if os.path.isfile(os.path.join(candidate, CONFIG_FILE)):
            return candidate
    if model_dir:
        raise CodecError(f"no codec found in {model_dir} (expected {CONFIG_FILE}, a serving "
                         "SavedModel of image-compression or its versions)")
    raise ModelNotFound(f"no trained codec under {base}")


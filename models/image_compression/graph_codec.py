"""The .rgc codec in the TensorFlow graph, for the serving SavedModel's encode / decode
signatures: version 1 of the file format of models/image_compression/bitstream.py (which
`shipyard decompress` reads), written with raw chunks (no lossless coder exists as a TF op) and
read with raw or zlib chunks (tf.io.decode_compressed), in files of any version whose tiles all
have the same iterations (grey and deblocked as the header says, as `shipyard decompress`
does). LZMA and entropy-model chunks, and per-tile iterations, need `shipyard decompress`.
Bad streams fail with InvalidArgumentError and a one-line message, which a model server
returns as an error response.
"""
from __future__ import annotations

import tensorflow as tf

from models.image_compression import bitstream, deblocking
from models.image_compression import residual_gru as rg

TILE = rg.PATCH
_ADLER = 65521
_HEADER_FIELDS = bitstream.V1_HEADER_SIZE - 4
_V2_HEADER_FIELDS = bitstream.V2_HEADER_SIZE - 4
_V3_HEADER_FIELDS = bitstream.HEADER_SIZE - 4


def _to_string(values: tf.Tensor) -> tf.Tensor:
    """Integers 0..255 → one byte string (there is no op that casts bytes to a string)."""
    table = tf.constant([bytes([i]) for i in range(256)])
    return tf.strings.reduce_join(tf.gather(table, tf.cast(values, tf.int32)))


def _be32(value: tf.Tensor) -> tf.Tensor:
    shifts = tf.constant([24, 16, 8, 0], tf.int64)
    return tf.bitwise.bitwise_and(tf.bitwise.right_shift(tf.cast(value, tf.int64), shifts), 255)


def _read_be32(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.bitwise.left_shift(values, tf.constant([24, 16, 8, 0], tf.int64)))


def adler32(values: tf.Tensor) -> tf.Tensor:
    """zlib's Adler-32 of a byte vector (int64): A = 1 + Σd, B = n + Σ (n − i)·d_i, mod 65521."""
    values = tf.cast(values, tf.int64)
    n = tf.size(values, out_type=tf.int64)
    a = (1 + tf.reduce_sum(values)) % _ADLER
    b = (n + tf.reduce_sum((n - tf.range(n)) * values)) % _ADLER
    return b * 65536 + a


def _bytes(data: bytes) -> tf.Tensor:
    return tf.constant(list(data), tf.int64)


def pack(bits: tf.Tensor, grid: tf.Tensor) -> tf.Tensor:
    """Per-tile ±1 codes (N, 2, 2, C) → the packed bytes (int64) bitstream.pack writes."""
    channels = tf.shape(bits)[-1]
    code_map = tf.reshape(tf.transpose(tf.reshape(bits, [grid[0], grid[1], 2, 2, channels]),
                                       [0, 2, 1, 3, 4]), [grid[0] * 2, grid[1] * 2, channels])
    planes = tf.reshape(tf.transpose(code_map, [2, 0, 1]) > 0, [-1, 8])
    weights = tf.constant([128, 64, 32, 16, 8, 4, 2, 1], tf.int64)
    return tf.reduce_sum(tf.cast(planes, tf.int64) * weights, axis=1)


def unpack(packed: tf.Tensor, grid: tf.Tensor, channels: int) -> tf.Tensor:
    """The inverse of pack: bytes → per-tile ±1 codes (N, 2, 2, C)."""
    shifts = tf.constant([7, 6, 5, 4, 3, 2, 1, 0], tf.int64)
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed[:, tf.newaxis], shifts), 1)
    planes = tf.reshape(bits, [channels, grid[0] * 2, grid[1] * 2])
    tiles = tf.transpose(tf.reshape(tf.transpose(planes, [1, 2, 0]),
                                    [grid[0], 2, grid[1], 2, channels]), [0, 2, 1, 3, 4])
    return tf.where(tf.reshape(tiles, [-1, 2, 2, channels]) > 0, 1.0, -1.0)


def _zero_states(shapes, n: tf.Tensor) -> list[tf.Tensor]:
    return [tf.zeros(tf.stack([n, s[0], s[1], s[2]])) for s in shapes]


def encode(model: rg.ResidualGRUCodec | CodecModule, model_id: bytes, max_iterations: int,
           image_bytes: tf.Tensor, iterations: tf.Tensor) -> tf.Tensor:
    """One encoded image (PNG, JPEG, GIF, BMP) → its .rgc stream of `iterations` raw chunks."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    iterations = tf.cast(iterations, tf.int32)
    checks = [
        tf.debugging.assert_greater_equal(
            tf.reduce_min(tf.shape(image)[:2]), 16,
            message="image too small (the codec needs at least 16×16 pixels)"),
        tf.debugging.assert_greater_equal(iterations, 1, message="iterations must be at least 1"),
        tf.debugging.assert_less_equal(iterations, max_iterations,
                                       message=f"iterations must be at most {max_iterations}")]
    # Nothing downstream runs on a request that failed a check (no op sees a bad shape).
    with tf.control_dependencies(checks):
        image, iterations = tf.identity(image), tf.identity(iterations)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    grid = tf.stack([(height + TILE - 1) // TILE, (width + TILE - 1) // TILE])
    rows = tf.minimum(tf.range(grid[0] * TILE), height - 1)  # edge padding, as codec.to_tiles
    cols = tf.minimum(tf.range(grid[1] * TILE), width - 1)
    padded = tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)
    x = tf.cast(padded, tf.float32) / 255.0 - 0.5
    tiles = tf.reshape(tf.transpose(tf.reshape(x, [grid[0], TILE, grid[1], TILE, 3]),
                                    [0, 2, 1, 3, 4]), [-1, TILE, TILE, 3])
    n = grid[0] * grid[1]
    e1, e2, e3 = _zero_states(rg.encoder_state_shapes(model.widths, TILE, TILE), n)
    d1, d2, d3, d4 = _zero_states(rg.decoder_state_shapes(model.widths, TILE, TILE), n)
    reconstruction = tf.zeros_like(tiles)
    residual = tiles
    chunks = tf.TensorArray(tf.string, size=iterations)
    for t in tf.range(iterations):
        bits, e1, e2, e3 = model.encoder([residual, e1, e2, e3], training=False)
        decoded, d1, d2, d3, d4 = model.decoder([bits, d1, d2, d3, d4], training=False)
        reconstruction = decoded + model.gamma * reconstruction
        residual = tiles - reconstruction
        packed = pack(bits, grid)
        chunk = tf.concat([_bytes(b"\x00"), _be32(tf.size(packed)), _be32(adler32(packed)),
                           packed], 0)
        chunks = chunks.write(t, _to_string(chunk))
    header = tf.concat([_bytes(bitstream.MAGIC), _bytes(bytes([bitstream.V1])),
                        _be32(width), _be32(height), tf.cast(iterations, tf.int64)[tf.newaxis],
                        _bytes(model_id)], 0)
    header = tf.concat([header, _be32(adler32(header))], 0)
    return _to_string(header) + tf.strings.reduce_join(chunks.stack())


def decode(model: rg.ResidualGRUCodec | CodecModule, model_id: bytes,
           stream: tf.Tensor) -> tf.Tensor:
    """One .rgc stream (raw or zlib chunks; cut streams decode progressively) → PNG bytes."""
    raw = tf.cast(tf.io.decode_raw(stream, tf.uint8), tf.int64)
    size = tf.size(raw, out_type=tf.int64)
    # Each check gates what reads past it, so a bad stream stops at its first problem.
    with tf.control_dependencies([tf.debugging.assert_greater_equal(
            size, tf.constant(bitstream.V1_HEADER_SIZE, tf.int64),
            message="truncated .rgc stream: the header is incomplete")]):
        raw = tf.identity(raw)
    with tf.control_dependencies([tf.debugging.assert_equal(
            raw[:4], _bytes(bitstream.MAGIC), message="not a Residual-GRU compressed file")]):
        raw = tf.identity(raw)
    version = raw[4]
    with tf.control_dependencies([tf.debugging.Assert(
            tf.logical_and(version >= bitstream.V1, version <= bitstream.VERSION),
            ["unsupported .rgc version"])]):
        # Version 2 adds flags and an entropy-model id before the checksum, 3 a deblocking level.
        fields = tf.gather(tf.constant([_HEADER_FIELDS, _V2_HEADER_FIELDS, _V3_HEADER_FIELDS],
                                       tf.int64), version - bitstream.V1)
    with tf.control_dependencies([tf.debugging.assert_greater_equal(
            size, fields + 4, message="truncated .rgc stream: the header is incomplete")]):
        raw = tf.identity(raw)
    with tf.control_dependencies([
            tf.debugging.assert_equal(adler32(raw[:fields]), _read_be32(raw[fields:fields + 4]),
                                      message="corrupt .rgc stream: header checksum mismatch")]):
        raw = tf.identity(raw)
    flags = tf.where(tf.equal(version, bitstream.V1), tf.constant(0, tf.int64), raw[22])
    level = tf.cond(tf.equal(version, bitstream.VERSION), lambda: raw[_V3_HEADER_FIELDS - 1],
                    lambda: tf.constant(0, tf.int64))
    with tf.control_dependencies([tf.debugging.assert_equal(
            tf.bitwise.bitwise_and(flags, ~tf.constant(bitstream.GREY, tf.int64)),
            tf.constant(0, tf.int64),
            message="this signature reads files whose tiles all have the same iterations; "
                    "decode others with `shipyard decompress`")]):
        raw = tf.identity(raw)
    with tf.control_dependencies([tf.debugging.assert_equal(
            raw[14:22], _bytes(model_id), message="this file was made by another codec model")]):
        raw = tf.identity(raw)
    width, height, iterations = _read_be32(raw[5:9]), _read_be32(raw[9:13]), raw[13]
    grid = tf.stack([(height + TILE - 1) // TILE, (width + TILE - 1) // TILE])
    channels = model.widths.bits
    chunk_bytes = grid[0] * grid[1] * 4 * channels // 8
    n = grid[0] * grid[1]
    d1, d2, d3, d4 = _zero_states(rg.decoder_state_shapes(model.widths, TILE, TILE), n)
    reconstruction = tf.zeros(tf.stack([n, TILE, TILE, 3]))
    offset = fields + 4
    decoded_count = tf.constant(0, tf.int64)
    for _ in tf.range(iterations):
        if offset >= size:
            break  # a stream cut at an iteration: progressive decoding
        with tf.control_dependencies([tf.debugging.assert_less_equal(
                offset + 9, size, message="truncated .rgc stream: an iteration is cut")]):
            chunk_header = tf.identity(raw[offset: offset + 9])
        coder = chunk_header[0]
        length = _read_be32(chunk_header[1:5])
        checksum = _read_be32(chunk_header[5:9])
        with tf.control_dependencies([
                tf.debugging.assert_less_equal(
                    offset + 9 + length, size,
                    message="truncated .rgc stream: an iteration is cut"),
                tf.debugging.assert_less_equal(
                    coder, tf.constant(1, tf.int64),
                    message="this signature reads raw and zlib chunks; decode LZMA and "
                            "entropy-model chunks with `shipyard decompress`")]):
            payload = tf.strings.substr(stream, offset + 9, length)
        payload = tf.cond(coder == 1, lambda p=payload: tf.io.decode_compressed(p, "ZLIB"),
                          lambda p=payload: p)
        packed = tf.cast(tf.io.decode_raw(payload, tf.uint8), tf.int64)
        with tf.control_dependencies([
                tf.debugging.assert_equal(tf.size(packed, out_type=tf.int64), chunk_bytes,
                                          message="corrupt .rgc stream: wrong chunk size"),
                tf.debugging.assert_equal(adler32(packed), checksum,
                                          message="corrupt .rgc stream: a chunk fails its "
                                                  "checksum")]):
            packed = tf.identity(packed)
        bits = unpack(packed, grid, channels)
        decoded, d1, d2, d3, d4 = model.decoder([bits, d1, d2, d3, d4], training=False)
        reconstruction = decoded + model.gamma * reconstruction
        offset += 9 + length
        decoded_count += 1
    tf.debugging.assert_greater(decoded_count, tf.constant(0, tf.int64),
                                message="truncated .rgc stream: no iteration after the header")
    image = tf.reshape(tf.transpose(tf.reshape(reconstruction, [grid[0], grid[1], TILE, TILE, 3]),
                                    [0, 2, 1, 3, 4]), [grid[0] * TILE, grid[1] * TILE, 3])
    image = image[:height, :width]
    image = tf.cond(tf.equal(flags, bitstream.GREY),
                    lambda: tf.broadcast_to(tf.reduce_mean(image, -1, keepdims=True),
                                            tf.shape(image)),
                    lambda: image)
    pixels = tf.clip_by_value(tf.round((image + 0.5) * 255.0), 0, 255)
    return tf.io.encode_png(_deblock(pixels, level))


def _deblock_rows(x: tf.Tensor, shares: tf.Tensor, strength: tf.Tensor) -> tf.Tensor:
    """deblocking._along_rows in the graph: x (H, W, C) float64, `shares` (MAX_WIDTH,)."""
    height = tf.shape(x, out_type=tf.int64)[0]
    edges = tf.range(TILE, height, TILE, dtype=tf.int64)
    step = tf.gather(x, edges) - tf.gather(x, edges - 1)
    change = strength * tf.clip_by_value(1 - tf.abs(step) / deblocking.THRESHOLD, 0, 1) * step
    for i in range(deblocking.MAX_WIDTH):  # shares beyond the level's width are 0
        x = tf.tensor_scatter_nd_add(x, (edges - 1 - i)[:, None], shares[i] * change)
        below = edges + i < height
        x = tf.tensor_scatter_nd_sub(x, tf.boolean_mask(edges + i, below)[:, None],
                                     tf.boolean_mask(shares[i] * change, below))
    return x


def _deblock(pixels: tf.Tensor, level: tf.Tensor) -> tf.Tensor:
    """Float pixels 0..255 (H, W, 3) → uint8, filtered as deblocking.deblock does."""
    with tf.control_dependencies([tf.debugging.assert_less_equal(
            level, tf.constant(len(deblocking.LEVELS), tf.int64),
            message="unsupported .rgc stream: unknown deblocking level")]):
        level = tf.identity(level)
    # Row 0 is level 0: no change.
    shares = tf.gather(tf.constant([[0.0] * deblocking.MAX_WIDTH] + [
        deblocking.shares(width) for width, _ in deblocking.LEVELS], tf.float64), level)
    strength = tf.gather(tf.constant([0.0] + [s for _, s in deblocking.LEVELS], tf.float64),
                         level)
    x = _deblock_rows(tf.cast(pixels, tf.float64), shares, strength)
    x = tf.transpose(_deblock_rows(tf.transpose(x, [1, 0, 2]), shares, strength), [1, 0, 2])
    return tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8)


class CodecModule(tf.Module):
    """What the serving SavedModel holds: the encoder, the decoder and the two signatures."""

    def __init__(self, model: rg.ResidualGRUCodec, model_id: bytes, max_iterations: int):
        super().__init__(name="residual_gru_codec")
        # The functional encoder and decoder only: they save and reload as plain graphs.
        self.widths = model.widths
        self.gamma = model.gamma
        self.encoder = model.encoder
        self.decoder = model.decoder
        self._model_id = model_id
        self._max_iterations = max_iterations

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes"),
                                  tf.TensorSpec([None], tf.int32, name="iterations")])
    def encode(self, image_bytes: tf.Tensor, iterations: tf.Tensor) -> dict[str, tf.Tensor]:
        codes = tf.map_fn(
            lambda args: encode(self, self._model_id, self._max_iterations, *args),
            (image_bytes, iterations), fn_output_signature=tf.string)
        return {"code_bytes": codes}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="code_bytes")])
    def decode(self, code_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        images = tf.map_fn(lambda s: decode(self, self._model_id, s), code_bytes,
                           fn_output_signature=tf.string)
        return {"png_bytes": images}

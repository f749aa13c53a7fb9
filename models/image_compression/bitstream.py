"""The .rgc file format: a header, then one entropy-coded chunk of packed bits per iteration.

    header, version 3 (32 bytes, big-endian; older files are still read: version 2, 31 bytes,
    lacks the field marked †, version 1, 26 bytes, the three marked * or †)
      magic       4   b"\\x89RGC" (the high byte catches 7-bit mangling, as PNG's does)
      version     1   3
      width       4   pixels of the original image (the codec pads, and crops back)
      height      4
      iterations  1   chunks the encoder wrote (1..255)
      model id    8   which trained codec made the bits (a decoder must be the same one)
      flags*      1   bit 0: per-tile iteration counts follow the header; bit 1 (version 3):
                      the image is grey, decode each pixel to the mean of its channels
      entropy id* 4   which entropy model coded the coder-3 chunks (0: none did)
      deblocking† 1   the level of deblocking filter the decoder applies to the image, 0 none
                      (models/image_compression/deblocking.py)
      checksum    4   Adler-32 of the bytes above
    tile iterations (with flag bit 0)
      length      4   bytes of the zlib stream
      counts      ... zlib (RFC 1950) of one byte per 32×32 tile, row-major: its iterations
      checksum    4   Adler-32 of the counts
    chunk, one per iteration, in order
      coder       1   0 raw, 1 zlib (RFC 1950, what tf.io.decode_compressed reads),
                      2 LZMA2 (raw stream, no .xz container), 3 the codec's context model
                      driving a range coder (models/image_compression/entropy_model.py)
      length      4   bytes of payload
      checksum    4   Adler-32 of the packed bits (after decoding the payload)
      payload     length bytes

Chunk t holds the bits of the tiles coded for more than t iterations (all of them without
per-tile counts), channel-major. Chunks are decoded in order, so the stream is progressive:
cut after k whole chunks, it decodes to the k-iteration image (`read` reports how many it
found). A cut inside a chunk, a wrong checksum, an unknown coder or trailing bytes are errors.
Adler-32 (not CRC-32) because the serving SavedModel computes it in the TensorFlow graph, where
it is a few sums; the served streams are version 1.
"""
from __future__ import annotations

import dataclasses
import lzma
import struct
import zlib
from collections.abc import Callable

import numpy as np

from models.image_compression import deblocking
from models.image_compression.errors import FormatError

TILE = 32  # pixels a side of the tiles that per-tile iteration counts count

MAGIC = b"\x89RGC"
VERSION = 3
V1 = 1  # what the serving graph writes (models/image_compression/graph_codec.py)
V2 = 2
_HEADER_V1 = struct.Struct(">4sBIIB8s")
_HEADER_V2 = struct.Struct(">4sBIIB8sBI")
_HEADER = struct.Struct(">4sBIIB8sBIB")
_CHUNK = struct.Struct(">BII")
V1_HEADER_SIZE = _HEADER_V1.size + 4
V2_HEADER_SIZE = _HEADER_V2.size + 4
HEADER_SIZE = _HEADER.size + 4  # without per-tile iteration counts
CHUNK_HEADER_SIZE = _CHUNK.size
CODERS = {"raw": 0, "zlib": 1, "lzma": 2}  # the lossless coders; 3 is the context model
MODEL_CODER = 3
ADAPTIVE = 1  # flag bit: per-tile iteration counts follow the header
GREY = 2  # flag bit (version 3): decode to grey
_FLAGS = {V2: ADAPTIVE, VERSION: ADAPTIVE | GREY}  # the flags each version knows
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME,
                  "dict_size": 1 << 20}]


@dataclasses.dataclass(frozen=True)
class Header:
    width: int
    height: int
    iterations: int
    model_id: bytes
    # Per-tile iteration counts (row-major), None when every tile has `iterations`.
    tile_iterations: tuple[int, ...] | None = None
    entropy_id: int = 0
    grey: bool = False  # the image is grey: decode each pixel to the mean of its channels
    deblocking: int = 0  # the deblocking filter's level (models/image_compression/deblocking.py)
    version: int = VERSION

    def active(self, index: int) -> np.ndarray | None:
        """Which tiles chunk `index` (0-based) holds bits of; None: all."""
        if self.tile_iterations is None:
            return None
        return np.asarray(self.tile_iterations) > index


# (chunk index, packed bits) → a context-model payload, or None when there is no model.
ModelEncoder = Callable[[int, bytes], "bytes | None"]
# (chunk index, payload, packed size, the previous chunk's packed bits or None) → the packed
# bits (ValueError when corrupt).
ModelDecoder = Callable[[int, bytes, int, "bytes | None"], bytes]


def pack(bits: np.ndarray, mask: np.ndarray | None = None) -> bytes:
    """±1 (or boolean) code of shape (H/16, W/16, 32) → bytes, channel-major (bit-planes), MSB
    first; with `mask` (H/16, W/16), only its cells. Channel-major puts each binarizer
    output's map together, which the coders like."""
    planes = np.transpose(np.asarray(bits) > 0, (2, 0, 1))
    return np.packbits(planes[:, mask] if mask is not None else planes.reshape(-1)).tobytes()


def unpack(data: bytes, rows: int, cols: int, channels: int = 32,
           mask: np.ndarray | None = None) -> np.ndarray:
    """Bytes → ±1 float32 code of shape (rows, cols, channels); with `mask`, the cells outside
    it are 0 (no bit)."""
    if mask is None:
        bits = np.unpackbits(np.frombuffer(data, np.uint8))[: rows * cols * channels]
        planes = bits.reshape(channels, rows, cols).transpose(1, 2, 0)
        return np.where(planes > 0, 1.0, -1.0).astype(np.float32)
    cells = int(mask.sum())
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: cells * channels]
    out = np.zeros((channels, rows, cols), np.float32)
    out[:, mask] = np.where(bits.reshape(channels, cells) > 0, 1.0, -1.0)
    return out.transpose(1, 2, 0)


def packed_size(cells: int, channels: int = 32) -> int:
    return -(-cells * channels // 8)


def entropy_code(data: bytes, coder: str = "best") -> tuple[int, bytes]:
    """(coder id, payload): the named lossless coder, or the smallest of all ("best")."""
    candidates = {
        "raw": lambda: data,
        "zlib": lambda: zlib.compress(data, 9),
        "lzma": lambda: lzma.compress(data, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS),
    }
    if coder != "best":
        if coder not in candidates:
            raise ValueError(f"unknown coder {coder!r}; choose from best, {', '.join(CODERS)}")
        return CODERS[coder], candidates[coder]()
    coded = [(CODERS[name], make()) for name, make in candidates.items()]
    return min(coded, key=lambda c: (len(c[1]), c[0]))


def entropy_decode(coder: int, payload: bytes) -> bytes:
    try:
        if coder == 0:
            return payload
        if coder == 1:
            return zlib.decompress(payload)
        if coder == 2:
            return lzma.decompress(payload, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    except (zlib.error, lzma.LZMAError) as e:
        raise FormatError(f"corrupt .rgc stream: a chunk does not decompress ({e})") from None
    raise FormatError(f"corrupt .rgc stream: unknown coder {coder}")


def write(header: Header, chunks: list[bytes], coder: str = "best",
          model: ModelEncoder | None = None, entropy_id: int = 0) -> bytes:
    """The stream of `header` and one chunk of packed bits per iteration. With `model` (the
    codec's context model, `entropy_id` naming it), coder "best" also tries it on each chunk
    and "model" uses it alone (else the smallest lossless coder)."""
    if not 1 <= len(chunks) <= 255:
        raise ValueError(f"1 to 255 iterations, got {len(chunks)}")
    lossless = "best" if coder == "model" else coder
    coded, used_model = [], False
    for index, packed in enumerate(chunks):
        candidates = [] if coder == "model" and model is not None else [
            entropy_code(packed, lossless)]
        if model is not None and coder in ("best", "model"):
            payload = model(index, packed)
            if payload is not None:
                candidates.append((MODEL_CODER, payload))
        if not candidates:
            candidates.append(entropy_code(packed, lossless))
        best = min(candidates, key=lambda c: (len(c[1]), c[0]))
        used_model |= best[0] == MODEL_CODER
        coded.append((best, packed))
    if not 0 <= header.deblocking <= len(deblocking.LEVELS):
        raise ValueError(f"deblocking level must be in 0..{len(deblocking.LEVELS)}, "
                         f"got {header.deblocking}")
    counts = header.tile_iterations
    flags = (ADAPTIVE if counts is not None else 0) | (GREY if header.grey else 0)
    fields = _HEADER.pack(MAGIC, VERSION, header.width, header.height, len(chunks),
                          header.model_id, flags, entropy_id if used_model else 0,
                          header.deblocking)
    out = [fields, struct.pack(">I", zlib.adler32(fields))]
    if counts is not None:
        raw = bytes(min(c, len(chunks)) for c in counts)
        block = zlib.compress(raw, 9)
        out += [struct.pack(">I", len(block)), block, struct.pack(">I", zlib.adler32(raw))]
    for (coder_id, payload), packed in coded:
        out += [_CHUNK.pack(coder_id, len(payload), zlib.adler32(packed)), payload]
    return b"".join(out)


def read_header(stream: bytes) -> Header:
    return _parse_header(stream)[0]


def _parse_header(stream: bytes) -> tuple[Header, int]:
    """The header and the offset of the first chunk."""
    if len(stream) < len(MAGIC) or stream[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(stream[: len(MAGIC)]):
            raise FormatError("truncated .rgc stream: the header is incomplete")
        raise FormatError("not a Residual-GRU compressed file (.rgc): wrong magic bytes")
    version = stream[len(MAGIC)] if len(stream) > len(MAGIC) else None
    layout = {V1: _HEADER_V1, V2: _HEADER_V2, VERSION: _HEADER}.get(version)
    if version is not None and layout is None:
        raise FormatError(f"unsupported .rgc version {version} (this codec reads "
                          f"{V1} to {VERSION})")
    if layout is None or len(stream) < layout.size + 4:
        raise FormatError("truncated .rgc stream: the header is incomplete")
    fields = layout.unpack_from(stream)
    _, _, width, height, iterations, model_id = fields[:6]
    flags, entropy_id, level = (*fields[6:], 0, 0, 0)[:3]
    (checksum,) = struct.unpack_from(">I", stream, layout.size)
    if checksum != zlib.adler32(stream[: layout.size]):
        raise FormatError("corrupt .rgc stream: header checksum mismatch")
    if width < 1 or height < 1 or iterations < 1:
        raise FormatError("corrupt .rgc stream: empty image or no iterations in the header")
    if flags & ~_FLAGS.get(version, 0):
        raise FormatError(f"unsupported .rgc stream: unknown header flags {flags:#04x}")
    if level > len(deblocking.LEVELS):
        raise FormatError(f"unsupported .rgc stream: unknown deblocking level {level}")
    offset, counts = layout.size + 4, None
    if flags & ADAPTIVE:
        if offset + 4 > len(stream):
            raise FormatError("truncated .rgc stream: the tile iterations are cut")
        (length,) = struct.unpack_from(">I", stream, offset)
        if offset + 8 + length > len(stream):
            raise FormatError("truncated .rgc stream: the tile iterations are cut")
        try:
            raw = zlib.decompress(stream[offset + 4: offset + 4 + length])
        except zlib.error:
            raw = None
        (check,) = struct.unpack_from(">I", stream, offset + 4 + length)
        tiles = -(-height // TILE) * -(-width // TILE)
        if (raw is None or zlib.adler32(raw) != check or len(raw) != tiles
                or not all(1 <= c <= iterations for c in raw)):
            raise FormatError("corrupt .rgc stream: the tile iterations fail their checksum")
        counts = tuple(raw)
        offset += 8 + length
    return Header(width, height, iterations, model_id, counts, entropy_id, bool(flags & GREY),
                  level, version), offset


def read(stream: bytes, chunk_size: int, model: ModelDecoder | None = None
         ) -> tuple[Header, list[bytes]]:
    """The header and the packed bits of every whole chunk (`chunk_size` bytes each once
    decoded when every tile has every iteration; with per-tile iterations, chunk t has the
    share of the tiles coded more than t times). A stream cut at a chunk boundary yields fewer
    chunks than the header says. Coder-3 chunks need `model` (the codec's context model)."""
    header, offset = _parse_header(stream)
    tiles = len(header.tile_iterations) if header.tile_iterations is not None else 0
    chunks: list[bytes] = []
    while offset < len(stream):
        if len(chunks) == header.iterations:
            raise FormatError("corrupt .rgc stream: bytes after the last iteration")
        if offset + CHUNK_HEADER_SIZE > len(stream):
            raise FormatError(f"truncated .rgc stream: iteration {len(chunks) + 1} is cut")
        coder, length, checksum = _CHUNK.unpack_from(stream, offset)
        offset += CHUNK_HEADER_SIZE
        if offset + length > len(stream):
            raise FormatError(f"truncated .rgc stream: iteration {len(chunks) + 1} is cut")
        active = header.active(len(chunks))
        size = chunk_size if active is None else chunk_size * int(active.sum()) // tiles
        payload = stream[offset: offset + length]
        if coder == MODEL_CODER:
            if model is None:
                raise FormatError(f"iteration {len(chunks) + 1} of this .rgc stream is coded "
                                  "with a codec's entropy model; decode it with `shipyard "
                                  "decompress` and that codec")
            try:
                packed = model(len(chunks), payload, size, chunks[-1] if chunks else None)
            except ValueError as e:
                raise FormatError(f"corrupt .rgc stream: iteration {len(chunks) + 1} does not "
                                  f"decode ({e})") from None
        else:
            packed = entropy_decode(coder, payload)
        offset += length
        if len(packed) != size or zlib.adler32(packed) != checksum:
            raise FormatError(f"corrupt .rgc stream: iteration {len(chunks) + 1} fails its "
                              "checksum")
        chunks.append(packed)
    if not chunks:
        raise FormatError("truncated .rgc stream: no iteration after the header")
    return header, chunks


def cut(stream: bytes, iterations: int) -> bytes:
    """The first `iterations` chunks of a stream (what a progressive receiver has so far)."""
    header, offset = _parse_header(stream)
    for _ in range(min(iterations, header.iterations)):
        _, length, _ = _CHUNK.unpack_from(stream, offset)
        offset += CHUNK_HEADER_SIZE + length
    return stream[:offset]


def chunk_sizes(stream: bytes) -> list[int]:
    """Bytes each iteration takes in the stream (chunk header included)."""
    header, offset = _parse_header(stream)
    sizes = []
    for _ in range(header.iterations):
        _, length, _ = _CHUNK.unpack_from(stream, offset)
        sizes.append(CHUNK_HEADER_SIZE + length)
        offset += CHUNK_HEADER_SIZE + length
    return sizes

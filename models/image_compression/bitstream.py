"""The .rgc file format: a header, then one entropy-coded chunk of packed bits per iteration.

    header (26 bytes, big-endian)
      magic       4   b"\\x89RGC" (the high byte catches 7-bit mangling, as PNG's does)
      version     1   1
      width       4   pixels of the original image (the codec pads, and crops back)
      height      4
      iterations  1   chunks the encoder wrote (1..255)
      model id    8   which trained codec made the bits (a decoder must be the same one)
      checksum    4   Adler-32 of the 22 bytes above
    chunk, one per iteration, in order
      coder       1   0 raw, 1 zlib (RFC 1950, what tf.io.decode_compressed reads),
                      2 LZMA2 (raw stream, no .xz container)
      length      4   bytes of payload
      checksum    4   Adler-32 of the packed bits (after decoding the payload)
      payload     length bytes

Chunks are coded independently, so the stream is progressive: cut after k whole chunks, it
decodes to the k-iteration image (`read` reports how many it found). A cut inside a chunk, a
wrong checksum, an unknown coder or trailing bytes are errors. Adler-32 (not CRC-32) because
the serving SavedModel computes it in the TensorFlow graph, where it is a few sums.
"""
from __future__ import annotations

import dataclasses
import lzma
import struct
import zlib

import numpy as np

from models.image_compression.errors import FormatError

MAGIC = b"\x89RGC"
VERSION = 1
_HEADER = struct.Struct(">4sBIIB8s")
_CHUNK = struct.Struct(">BII")
HEADER_SIZE = _HEADER.size + 4
CHUNK_HEADER_SIZE = _CHUNK.size
CODERS = {"raw": 0, "zlib": 1, "lzma": 2}
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME,
                  "dict_size": 1 << 20}]


@dataclasses.dataclass(frozen=True)
class Header:
    width: int
    height: int
    iterations: int
    model_id: bytes


def pack(bits: np.ndarray) -> bytes:
    """±1 (or boolean) code of shape (H/16, W/16, 32) → bytes, channel-major (bit-planes), MSB
    first. Channel-major puts each binarizer output's map together, which the coders like."""
    return np.packbits(np.transpose(np.asarray(bits) > 0, (2, 0, 1)).reshape(-1)).tobytes()


def unpack(data: bytes, rows: int, cols: int, channels: int = 32) -> np.ndarray:
    """Bytes → ±1 float32 code of shape (rows, cols, channels)."""
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: rows * cols * channels]
    planes = bits.reshape(channels, rows, cols).transpose(1, 2, 0)
    return np.where(planes > 0, 1.0, -1.0).astype(np.float32)


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


def write(header: Header, chunks: list[bytes], coder: str = "best") -> bytes:
    """The stream of `header` and one chunk of packed bits per iteration."""
    if not 1 <= len(chunks) <= 255:
        raise ValueError(f"1 to 255 iterations, got {len(chunks)}")
    fields = _HEADER.pack(MAGIC, VERSION, header.width, header.height, len(chunks),
                          header.model_id)
    out = [fields, struct.pack(">I", zlib.adler32(fields))]
    for packed in chunks:
        coder_id, payload = entropy_code(packed, coder)
        out += [_CHUNK.pack(coder_id, len(payload), zlib.adler32(packed)), payload]
    return b"".join(out)


def read_header(stream: bytes) -> Header:
    if len(stream) < len(MAGIC) or stream[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(stream[: len(MAGIC)]):
            raise FormatError("truncated .rgc stream: the header is incomplete")
        raise FormatError("not a Residual-GRU compressed file (.rgc): wrong magic bytes")
    if len(stream) < HEADER_SIZE:
        raise FormatError("truncated .rgc stream: the header is incomplete")
    magic, version, width, height, iterations, model_id = _HEADER.unpack_from(stream)
    if version != VERSION:
        raise FormatError(f"unsupported .rgc version {version} (this codec reads {VERSION})")
    (checksum,) = struct.unpack_from(">I", stream, _HEADER.size)
    if checksum != zlib.adler32(stream[: _HEADER.size]):
        raise FormatError("corrupt .rgc stream: header checksum mismatch")
    if width < 1 or height < 1 or iterations < 1:
        raise FormatError("corrupt .rgc stream: empty image or no iterations in the header")
    return Header(width, height, iterations, model_id)


def read(stream: bytes, chunk_size: int) -> tuple[Header, list[bytes]]:
    """The header and the packed bits of every whole chunk (`chunk_size` bytes each once
    decoded). A stream cut at a chunk boundary yields fewer chunks than the header says."""
    header = read_header(stream)
    chunks: list[bytes] = []
    offset = HEADER_SIZE
    while offset < len(stream):
        if len(chunks) == header.iterations:
            raise FormatError("corrupt .rgc stream: bytes after the last iteration")
        if offset + CHUNK_HEADER_SIZE > len(stream):
            raise FormatError(f"truncated .rgc stream: iteration {len(chunks) + 1} is cut")
        coder, length, checksum = _CHUNK.unpack_from(stream, offset)
        offset += CHUNK_HEADER_SIZE
        if offset + length > len(stream):
            raise FormatError(f"truncated .rgc stream: iteration {len(chunks) + 1} is cut")
        packed = entropy_decode(coder, stream[offset: offset + length])
        offset += length
        if len(packed) != chunk_size or zlib.adler32(packed) != checksum:
            raise FormatError(f"corrupt .rgc stream: iteration {len(chunks) + 1} fails its "
                              "checksum")
        chunks.append(packed)
    if not chunks:
        raise FormatError("truncated .rgc stream: no iteration after the header")
    return header, chunks


def cut(stream: bytes, iterations: int) -> bytes:
    """The first `iterations` chunks of a stream (what a progressive receiver has so far)."""
    header = read_header(stream)
    offset = HEADER_SIZE
    for _ in range(min(iterations, header.iterations)):
        _, length, _ = _CHUNK.unpack_from(stream, offset)
        offset += CHUNK_HEADER_SIZE + length
    return stream[:offset]


def chunk_sizes(stream: bytes) -> list[int]:
    """Bytes each iteration takes in the stream (chunk header included)."""
    header = read_header(stream)
    sizes, offset = [], HEADER_SIZE
    for _ in range(header.iterations):
        _, length, _ = _CHUNK.unpack_from(stream, offset)
        sizes.append(CHUNK_HEADER_SIZE + length)
        offset += CHUNK_HEADER_SIZE + length
    return sizes

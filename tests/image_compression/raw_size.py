"""The size of an uncompressed (raw-chunk) version-1 stream, from a photo's dimensions."""
import math

from models.image_compression import bitstream

TILE = 32
CHUNK_HEADER = 9
TILE_BYTES = 2 * 2 * 32 // 8  # one iteration's 2×2×32 bits per 32×32 tile


def tiles(photo) -> int:
    height, width = photo.shape[:2]
    return math.ceil(height / TILE) * math.ceil(width / TILE)


def raw_bpp(photo, iterations: int) -> float:
    """Bits per pixel of `iterations` raw chunks: the header, then per chunk 9 bytes and 16
    per tile (the last row and column of tiles padded)."""
    height, width = photo.shape[:2]
    size = bitstream.V1_HEADER_SIZE + iterations * (CHUNK_HEADER + TILE_BYTES * tiles(photo))
    return size * 8 / (height * width)

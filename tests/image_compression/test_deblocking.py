"""The deblocking filter between tiles, and version 3 of the .rgc header that records it (with
the grey flag); older headers still read."""
import struct
import zlib

import numpy as np
import pytest

from models.image_compression import bitstream, deblocking


def _seam(step, height=64, width=8):
    """A flat image whose lower tile row is `step` brighter: a seam at the edge of rows 31 | 32."""
    image = np.full((height, width, 3), 100, np.uint8)
    image[32:] += np.uint8(step)
    return image


def test_a_seam_becomes_a_ramp_across_the_tile_edge():
    level = deblocking.LEVELS.index((2, 1.0)) + 1
    # change = 1.0 · (1 − 10/64) · 10 = 8.4375; the pixels next to the edge move 2/5 of it,
    # the next ones 1/5: 100 + 1.69, 100 + 3.38 | 110 − 3.38, 110 − 1.69.
    column = deblocking.deblock(_seam(10), level)[28:36, 3, 0]
    assert column.tolist() == [100, 100, 102, 103, 107, 108, 110, 110]
    # Vertical edges the same way, on every channel.
    across = deblocking.deblock(_seam(10).transpose(1, 0, 2), level)
    np.testing.assert_array_equal(across, deblocking.deblock(_seam(10), level).transpose(1, 0, 2))


def test_edges_of_the_picture_and_level_0_are_left_alone():
    np.testing.assert_array_equal(deblocking.deblock(_seam(10), 0), _seam(10))
    # A step of THRESHOLD or more is an edge in the picture, not a seam.
    for level in range(1, len(deblocking.LEVELS) + 1):
        np.testing.assert_array_equal(deblocking.deblock(_seam(64), level), _seam(64))
    # Rows away from the tile edge do not move, whatever the level.
    heavy = deblocking.deblock(_seam(20), len(deblocking.LEVELS))
    np.testing.assert_array_equal(heavy[:26], _seam(20)[:26])
    np.testing.assert_array_equal(heavy[38:], _seam(20)[38:])
    # A tile edge one row before the bottom: only the rows that exist move.
    short = deblocking.deblock(_seam(10, height=33), len(deblocking.LEVELS))
    assert short.shape == (33, 8, 3) and short[32, 0, 0] < 110
    with pytest.raises(ValueError, match="deblocking level must be in 0..7, got 8"):
        deblocking.deblock(_seam(10), 8)


def _negative_mse(reference):
    return lambda image: -float(np.mean((reference.astype(float) - image.astype(float)) ** 2))


def test_best_level_smooths_a_blocky_decode_and_leaves_an_exact_one():
    rows = np.linspace(40, 200, 96)
    reference = np.repeat(np.repeat(rows[:, None, None], 16, axis=1), 3, axis=2)
    reference = np.round(reference).astype(np.uint8)
    # Each 32-row tile decoded to its mean: steps of about 53 at both tile edges.
    blocky = reference.copy()
    for top in range(0, 96, 32):
        blocky[top: top + 32] = np.round(reference[top: top + 32].mean()).astype(np.uint8)
    against = _negative_mse(reference)
    level, filtered, score = deblocking.best_level(blocky, against)
    assert level > 0 and score == against(filtered) > against(blocky)
    assert all(against(deblocking.deblock(blocky, other)) <= score
               for other in range(len(deblocking.LEVELS) + 1))
    # Nothing to smooth: level 0, found from any starting guess.
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for start in (0, 3, len(deblocking.LEVELS)):
        assert deblocking.best_level(noise, _negative_mse(noise), start)[0] == 0


def test_version_3_header_carries_grey_and_the_deblocking_level():
    chunks = [bytes(range(96))]
    header = bitstream.Header(40, 40, 1, b"abcdefgh", grey=True, deblocking=5)
    stream = bitstream.write(header, chunks, "raw")
    assert stream[4] == bitstream.VERSION == 3 and len(stream) == bitstream.HEADER_SIZE + 9 + 96
    assert bitstream.read(stream, 96) == (header, chunks)
    assert (stream[22], stream[27]) == (bitstream.GREY, 5)
    # A level this decoder does not know is refused, even with a good checksum.
    fields = stream[:27] + bytes([99])
    bad = fields + struct.pack(">I", zlib.adler32(fields)) + stream[32:]
    with pytest.raises(bitstream.FormatError, match="unknown deblocking level 99$"):
        bitstream.read_header(bad)
    with pytest.raises(ValueError, match="deblocking level must be in 0..7, got 8"):
        bitstream.write(bitstream.Header(40, 40, 1, b"abcdefgh", deblocking=8), chunks)


def _v2_stream(flags, chunks):
    """A version 2 stream, byte by byte (flags and an entropy id, no deblocking level)."""
    fields = struct.pack(">4sBIIB8sBI", b"\x89RGC", 2, 40, 40, len(chunks), b"abcdefgh",
                         flags, 0)
    out = [fields, struct.pack(">I", zlib.adler32(fields))]
    for packed in chunks:
        out += [struct.pack(">BII", 0, len(packed), zlib.adler32(packed)), packed]
    return b"".join(out)


def test_version_2_headers_still_read_without_the_version_3_flags():
    chunks = [bytes(range(96)), bytes(96)]
    header, read = bitstream.read(_v2_stream(0, chunks), 96)
    assert read == chunks
    assert (header.version, header.grey, header.deblocking) == (2, False, 0)
    with pytest.raises(bitstream.FormatError, match="unknown header flags 0x02$"):
        bitstream.read_header(_v2_stream(bitstream.GREY, chunks))

"""The .rgc codec: format round trip, lossless entropy coding, progressive streams, rate
control, and the command line's errors (one line, exit 2, no output file)."""
import os
import struct

import numpy as np
import pytest
from PIL import Image

from models.image_compression import bitstream, codec, deblocking, quality
from pipelines import cli


@pytest.fixture(scope="module")
def model_dir(exported):
    return codec.find_model(exported[0], "unused")


@pytest.fixture(scope="module")
def trained(model_dir):
    return codec.Codec.load(model_dir)


def _photo(height=50, width=70, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR))


def test_pack_unpack_round_trip():
    bits = np.where(np.random.default_rng(0).random((6, 10, 32)) > 0.5, 1.0, -1.0)
    packed = bitstream.pack(bits)
    assert len(packed) == 6 * 10 * 32 // 8
    np.testing.assert_array_equal(bitstream.unpack(packed, 6, 10), bits)


@pytest.mark.parametrize("coder", ["raw", "zlib", "lzma", "best"])
def test_entropy_coders_are_lossless(coder):
    rng = np.random.default_rng(1)
    for data in (rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),  # incompressible
                 bytes(3000) + b"\xff" * 1000,  # very compressible
                 bytes(rng.integers(0, 2, 5000, dtype=np.uint8) * 255), b"x"):
        coder_id, payload = bitstream.entropy_code(data, coder)
        assert bitstream.entropy_decode(coder_id, payload) == data
        if coder == "best":
            assert len(payload) == min(len(bitstream.entropy_code(data, c)[1])
                                       for c in ("raw", "zlib", "lzma"))
    assert len(bitstream.entropy_code(bytes(4000), "lzma")[1]) < 100


def test_format_round_trip_and_header():
    chunks = [np.random.default_rng(i).integers(0, 256, 96, dtype=np.uint8).tobytes()
              for i in range(3)]
    header = bitstream.Header(width=50, height=37, iterations=3, model_id=b"12345678")
    stream = bitstream.write(header, chunks)
    assert stream[:4] == b"\x89RGC"
    assert bitstream.read(stream, 96) == (header, chunks)
    assert struct.unpack(">II", stream[5:13]) == (50, 37)
    assert sum(bitstream.chunk_sizes(stream)) + bitstream.HEADER_SIZE == len(stream)


def _stream():
    chunks = [bytes(range(96)), bytes(96), b"\x0f" * 96]
    return bitstream.write(bitstream.Header(40, 40, 3, b"abcdefgh"), chunks, "raw")


@pytest.mark.parametrize("damage,message", [
    (lambda s: b"", "truncated .rgc stream: the header is incomplete"),
    (lambda s: s[:10], "truncated .rgc stream: the header is incomplete"),
    (lambda s: s[:-5], "truncated .rgc stream: iteration 3 is cut"),
    (lambda s: s[:bitstream.HEADER_SIZE + 4], "truncated .rgc stream: iteration 1 is cut"),
    (lambda s: s[:bitstream.HEADER_SIZE], "truncated .rgc stream: no iteration after the header"),
    (lambda s: b"\x89PNG\r\n\x1a\n" + s[8:], "not a Residual-GRU compressed file"),
    (lambda s: s[:4] + b"\x07" + s[5:], "unsupported .rgc version 7"),
    (lambda s: s[:6] + b"\x01" + s[7:], "corrupt .rgc stream: header checksum mismatch"),
    (lambda s: s[:-1] + bytes([s[-1] ^ 1]), "iteration 3 fails its checksum"),
    (lambda s: s[:bitstream.HEADER_SIZE] + b"\x09" + s[bitstream.HEADER_SIZE + 1:],
     "unknown coder 9"),
    (lambda s: s + b"\x00", "bytes after the last iteration"),
])
def test_damaged_streams_are_refused(damage, message):
    with pytest.raises(bitstream.FormatError, match=message.replace("(", r"\(").replace(
            ")", r"\)").replace(".", r"\.")):
        bitstream.read(damage(_stream()), 96)


def test_stream_cut_at_an_iteration_decodes_progressively():
    stream = _stream()
    header, chunks = bitstream.read(bitstream.cut(stream, 2), 96)
    assert header.iterations == 3 and chunks == [bytes(range(96)), bytes(96)]


def test_image_round_trip_any_size(trained):
    image = _photo(50, 70)
    result = codec.compress(trained, image, iterations=3)
    # Each iteration is H·W/8 bits of the image padded to the 32-pixel grid (64×96).
    assert trained.chunk_bytes(50, 70) == 64 * 96 // 8 // 8
    chunks, decoded = trained.encode(image, 3)
    assert [len(c) for c in chunks] == [64 * 96 // 8 // 8] * 3
    restored, header, k = codec.decompress(trained, result.stream)
    assert (header.width, header.height, header.iterations, k) == (70, 50, 3, 3)
    assert restored.shape == image.shape and restored.dtype == np.uint8
    # The receiver gets exactly what the sender's decoder saw, deblocked at the file's level.
    assert header.deblocking == result.deblocking
    np.testing.assert_array_equal(restored, deblocking.deblock(decoded[2], header.deblocking))
    assert result.ms_ssim == quality.ms_ssim(image, restored)
    # A stream cut after 2 iterations decodes to the 2-iteration image.
    cut, _, k = codec.decompress(trained, bitstream.cut(result.stream, 2))
    assert k == 2
    np.testing.assert_array_equal(cut, deblocking.deblock(decoded[1], header.deblocking))


def test_grey_images_decode_grey_deblocked_at_the_level_the_encoder_chose(trained):
    colour = _photo(64, 96)
    grey = np.repeat(colour[..., :1], 3, axis=-1)
    result = codec.compress(trained, grey, iterations=2)
    restored, header, _ = codec.decompress(trained, result.stream)
    assert header.grey and (restored == restored[..., :1]).all()
    assert not bitstream.read_header(codec.compress(trained, colour, iterations=2).stream).grey
    # The tiles' channel mean, deblocked at the level that scored best of those tried.
    tiles, grid = codec.to_tiles(grey)
    _, reconstructions = trained.encode_tiles(tiles, 2)
    plain = codec.from_tiles(codec.to_grey(reconstructions[1]), grid, grey.shape[:2])
    np.testing.assert_array_equal(restored, deblocking.deblock(plain, header.deblocking))
    assert result.ms_ssim == quality.ms_ssim(grey, restored) >= quality.ms_ssim(grey, plain)


def test_rate_control(trained):
    image = _photo(64, 64)
    full = codec.compress(trained, image)
    assert full.iterations == 4
    sizes = np.cumsum(bitstream.chunk_sizes(full.stream)) + bitstream.HEADER_SIZE
    budget = (sizes[1] + 1) * 8 / (64 * 64)
    by_bpp = codec.compress(trained, image, bpp=budget, adaptive=False)
    assert by_bpp.iterations == 2 and by_bpp.bpp <= budget
    assert len(by_bpp.stream) == sizes[1]
    _, decoded = trained.encode(image, 4)
    target = quality.ms_ssim(image, decoded[2])
    by_quality = codec.compress(trained, image, min_quality=target, adaptive=False)
    assert by_quality.iterations <= 3 and by_quality.ms_ssim >= target
    with pytest.raises(codec.SettingError, match="below this image's smallest file"):
        codec.compress(trained, image, bpp=0.001)
    with pytest.raises(codec.SettingError, match="iterations must be in 1..4"):
        codec.compress(trained, image, iterations=5)


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_compress_decompress(tmp_path, capsys, model_dir):
    src = tmp_path / "in.png"
    Image.fromarray(_photo(40, 33)).save(src)
    code, out, _ = _run(capsys, "compress", str(src), str(tmp_path / "a.rgc"),
                        "--iterations", "2", "--model", model_dir)
    assert code == 0 and "2 iterations" in out
    code, out, _ = _run(capsys, "decompress", str(tmp_path / "a.rgc"),
                        str(tmp_path / "a.png"), "--model", model_dir)
    assert code == 0 and "33×40, 2 iterations decoded" in out
    assert Image.open(tmp_path / "a.png").size == (33, 40)
    code, out, _ = _run(capsys, "compress", str(src), str(tmp_path / "b.rgc"),
                        "--iterations", "2", "--no-deblocking", "--model", model_dir)
    assert code == 0 and "deblocking level 0," in out
    assert bitstream.read_header((tmp_path / "b.rgc").read_bytes()).deblocking == 0
    assert sorted(os.listdir(tmp_path)) == ["a.png", "a.rgc", "b.rgc", "in.png"]


def _assert_error(capsys, tmp_path, argv, message, output):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not os.path.exists(output)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".partial")]


def test_cli_errors(tmp_path, capsys, model_dir):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((8, 20, 3), np.uint8)).save(tiny)
    out_rgc = str(tmp_path / "out.rgc")
    _assert_error(capsys, tmp_path, ["compress", str(text), out_rgc, "--model", model_dir],
                  f"error: cannot read image {text}", out_rgc)
    _assert_error(capsys, tmp_path, ["compress", str(tiny), out_rgc, "--model", model_dir],
                  "error: image too small: 20×8 (the codec needs at least 16×16 pixels)",
                  out_rgc)
    _assert_error(capsys, tmp_path, ["compress", str(tmp_path / "missing.png"), out_rgc,
                                     "--model", model_dir], "error: image not found", out_rgc)

    good = tmp_path / "in.png"
    Image.fromarray(_photo(32, 32)).save(good)
    assert _run(capsys, "compress", str(good), str(tmp_path / "g.rgc"), "--model",
                model_dir)[0] == 0
    stream = (tmp_path / "g.rgc").read_bytes()
    out_png = str(tmp_path / "out.png")
    for name, data, message in [
            ("cut.rgc", stream[:-3], "error: truncated .rgc stream: iteration 4 is cut"),
            ("foreign.rgc", good.read_bytes(), "error: not a Residual-GRU compressed file"),
            ("corrupt.rgc", stream[:-1] + bytes([stream[-1] ^ 0x10]), "error: corrupt .rgc"),
            ("other.rgc", stream[:18] + b"\x00" * 4 + stream[22:], "error: corrupt .rgc")]:
        (tmp_path / name).write_bytes(data)
        _assert_error(capsys, tmp_path, ["decompress", str(tmp_path / name), out_png,
                                         "--model", model_dir], message, out_png)
    # A file from another codec: same format, another model id (checksum recomputed).
    other = bitstream.write(bitstream.Header(32, 32, 1, b"\x00" * 8), [bytes(4 * 32 // 8)])
    (tmp_path / "alien.rgc").write_bytes(other)
    _assert_error(capsys, tmp_path, ["decompress", str(tmp_path / "alien.rgc"), out_png,
                                     "--model", model_dir],
                  "error: this file was made by codec 0000000000000000", out_png)
    _assert_error(capsys, tmp_path, ["decompress", str(tmp_path / "g.rgc"), out_png,
                                     "--output-dir", str(tmp_path / "nothing")],
                  "no trained codec under", out_png)
    code, _, err = _run(capsys, "decompress", str(tmp_path / "g.rgc"), out_png,
                        "--output-dir", str(tmp_path / "nothing"))
    assert "train one with `shipyard run image-compression`" in err

"""The entropy model over the codes (constriction's range coder driven by a context table),
the .rgc format's versions, spatially adaptive iterations, and the Trainer's random crops."""
import struct
import zlib

import numpy as np
import pytest

from models.image_compression import bitstream, codec, crops, deblocking, entropy_model


@pytest.fixture(scope="module")
def trained(exported):
    return codec.Codec.load(codec.find_model(exported[0], "unused"))


def _maps(rng, iterations=3, rows=6, cols=10, channels=32, bias=0.8):
    """Code maps where each bit repeats the previous iteration's with probability `bias`."""
    maps = [np.where(rng.random((rows, cols, channels)) < 0.5, 1.0, -1.0)]
    for _ in range(iterations - 1):
        keep = rng.random((rows, cols, channels)) < bias
        maps.append(np.where(keep, maps[-1], -maps[-1]))
    return maps


def test_context_model_codes_bits_exactly():
    rng = np.random.default_rng(0)
    model = entropy_model.ContextModel(
        rng.random((3, 32, entropy_model.PHASES, entropy_model.CONTEXTS)))
    maps = _maps(rng)
    mask = rng.random(maps[0].shape[:2]) < 0.7
    previous = None
    for t, current in enumerate(maps):
        current = current * mask[..., None]
        payload = model.encode(t, current, mask, previous)
        np.testing.assert_array_equal(model.decode(t, payload, mask, 32, previous), current)
        previous = current
    with pytest.raises(ValueError, match="not whole 32-bit words"):
        model.decode(0, b"abc", mask, 32, None)


def test_first_version_tables_still_decode_their_payloads():
    """Payloads the first entropy model (one context set a channel, (T, C, 27) tables) wrote
    for these bits, byte for byte: files coded with it keep decoding."""
    rng = np.random.default_rng(7)
    model = entropy_model.ContextModel(np.round(rng.random((2, 4, 27)), 2))
    maps = [np.where(rng.random((3, 4, 4)) < 0.5, 1.0, -1.0) for _ in range(2)]
    mask = np.ones((3, 4), bool)
    mask[2, 3] = False
    assert model.id == 3591125972 and not model.phased
    previous = None
    for t, payload in enumerate(["33247c00c1a9cded", "f7c0b5ff8605195d"]):
        current = maps[t] * mask[..., None]
        assert model.encode(t, current, mask, previous).hex() == payload
        np.testing.assert_array_equal(
            model.decode(t, bytes.fromhex(payload), mask, 4, previous), current)
        previous = current


def test_neighbour_contexts_beat_lzma_on_the_first_iteration():
    """A first iteration has no previous bits: in a flat region the codes repeat from cell to
    cell, which LZMA finds as repeated bytes and the model as agreeing neighbours."""
    rng = np.random.default_rng(8)

    def first_map():
        # Patches of 4×4 cells sharing one code word, a few cells flipped at random.
        words = np.where(rng.random((4, 4, 32)) < 0.5, 1.0, -1.0)
        code = np.repeat(np.repeat(words, 4, axis=0), 4, axis=1)
        flips = rng.random(code.shape) < 0.01
        return np.where(flips, -code, code)

    model = entropy_model.fit([[first_map()] for _ in range(30)], 1)
    code = first_map()
    mask = np.ones(code.shape[:2], bool)
    payload = model.encode(0, code, mask, None)
    np.testing.assert_array_equal(model.decode(0, payload, mask, 32, None), code)
    lzma_bytes = len(bitstream.entropy_code(bitstream.pack(code), "lzma")[1])
    assert len(payload) < 0.8 * lzma_bytes


def test_fitted_model_beats_lzma_on_predictable_bits_and_is_chosen_per_chunk():
    rng = np.random.default_rng(1)
    model = entropy_model.fit([_maps(rng, bias=0.95) for _ in range(20)], 3)
    maps = _maps(np.random.default_rng(2), bias=0.95)
    maps[2] = np.ones_like(maps[2])  # all +1: the table did not expect it, LZMA does
    packed = [bitstream.pack(m) for m in maps]

    def encode(index, _):
        return model.encode(index, maps[index], np.ones(maps[0].shape[:2], bool),
                            maps[index - 1] if index else None)

    header = bitstream.Header(160, 96, 3, b"abcdefgh")
    stream = bitstream.write(header, packed, "best", encode, model.id)
    offset, coders = bitstream.HEADER_SIZE, []
    for size in bitstream.chunk_sizes(stream):
        coders.append(stream[offset])
        offset += size
    # Iteration 1: no bits to repeat (random), raw wins; 2: the table; 3: zlib or LZMA.
    assert coders[:2] == [0, bitstream.MODEL_CODER] and coders[2] in (1, 2)
    assert bitstream.read_header(stream).entropy_id == model.id

    def decode(index, payload, size, previous):
        before = None if previous is None else bitstream.unpack(previous, 6, 10)
        return bitstream.pack(model.decode(index, payload, np.ones((6, 10), bool), 32, before))

    assert bitstream.read(stream, 6 * 10 * 4, decode)[1] == packed
    with pytest.raises(bitstream.FormatError,
                       match=r"^iteration 2 of this \.rgc stream is coded with a codec's entropy"):
        bitstream.read(stream, 6 * 10 * 4)


def _v1_stream(width, height, model_id, chunks):
    """A version 1 stream, byte by byte as the serving graph writes it (raw chunks)."""
    fields = struct.pack(">4sBIIB8s", b"\x89RGC", 1, width, height, len(chunks), model_id)
    out = [fields, struct.pack(">I", zlib.adler32(fields))]
    for packed in chunks:
        out += [struct.pack(">BII", 0, len(packed), zlib.adler32(packed)), packed]
    return b"".join(out)


def test_version_1_files_still_decode(trained):
    image = np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    chunks, decoded = trained.encode(image, 2)
    stream = _v1_stream(50, 40, trained.model_id, chunks)
    header = bitstream.read_header(stream)
    assert (header.version, header.iterations, header.tile_iterations) == (1, 2, None)
    restored, _, k = codec.decompress(trained, stream)
    assert k == 2
    np.testing.assert_array_equal(restored, decoded[1])


def test_codec_round_trip_with_its_entropy_model(trained):
    assert trained.entropy is not None  # the Trainer fitted one on the training photos
    from pipelines.image_compression import data as compression_data

    photo = compression_data._bundled_photo("skimage:astronaut.png")[:96, :128]
    result = codec.compress(trained, photo, coder="model")
    _, decoded = trained.encode(photo, trained.iterations)
    restored, header, k = codec.decompress(trained, result.stream)
    assert header.entropy_id == trained.entropy.id and k == trained.iterations
    np.testing.assert_array_equal(restored, deblocking.deblock(decoded[-1], header.deblocking))
    # "best" (the default) picks per chunk: no chunk, nor the file, is larger than LZMA's.
    best, lzma_only = (codec.compress(trained, photo, coder=c).stream for c in ("best", "lzma"))
    assert all(b <= z for b, z in zip(bitstream.chunk_sizes(best),
                                      bitstream.chunk_sizes(lzma_only), strict=True))
    assert len(best) <= len(lzma_only)
    other = codec.Codec(trained.model, entropy=entropy_model.ContextModel(
        np.full_like(trained.entropy.table, 0.3)))
    with pytest.raises(codec.CodecError, match="entropy model the loaded codec does not have"):
        codec.decompress(other, result.stream)


def _flat_and_textured(seed=4):
    """64×128: the left half one grey, the right half noise."""
    image = np.full((64, 128, 3), 120, np.uint8)
    image[:, 64:] = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return image


def test_step_counts_raise_the_lowest_scoring_tiles_by_one_iteration():
    # Scores of four tiles after iterations 1, 2, 3.
    scores = np.array([[0.5, 0.2, 0.5, 0.9],
                       [0.7, 0.3, 0.6, 0.95],
                       [0.8, 0.4, 0.7, 0.96]])
    assert codec.step_counts(scores, 1, 0).tolist() == [1, 1, 1, 1]
    assert codec.step_counts(scores, 1, 1).tolist() == [1, 2, 1, 1]
    assert codec.step_counts(scores, 1, 2).tolist() == [2, 2, 1, 1]  # a tie: the earlier tile
    assert codec.step_counts(scores, 2, 2).tolist() == [2, 3, 3, 2]  # ranked after iteration 2
    assert codec.step_counts(scores, 2, 4).tolist() == [3, 3, 3, 3]


def test_tile_ssim_is_ms_ssims_per_channel_ssim_and_sees_colour():
    from models.image_compression import quality

    rng = np.random.default_rng(3)
    reference = rng.uniform(-0.3, 0.3, (2, 32, 32, 3)).astype(np.float32)
    distorted = reference.copy()
    # A hue shift that keeps luma (0.299 R + 0.587 G + 0.114 B) exactly.
    distorted[0, ..., 0] += 0.15
    distorted[0, ..., 1] -= 0.15 * 0.299 / 0.587
    distorted[1] = distorted[1] * 0.5  # contrast halved, every channel
    scores = codec.tile_ssim(reference, distorted[np.newaxis])
    assert scores.shape == (1, 2)
    for i in range(2):
        per_channel, _ = quality.ssim_and_cs((reference[i] + 0.5) * 255.0,
                                              (distorted[i] + 0.5) * 255.0, 255.0)
        assert scores[0, i] == pytest.approx(per_channel.mean(), rel=1e-6)
    # Luma alone sees no error in the hue shift; the per-channel score does.
    luma = np.array([0.299, 0.587, 0.114])
    luma_ssim, _ = quality.ssim_and_cs(((reference[0] + 0.5) @ luma * 255.0)[..., None],
                                        ((distorted[0] + 0.5) @ luma * 255.0)[..., None], 255.0)
    assert luma_ssim[0] == pytest.approx(1.0, abs=1e-6) and scores[0, 0] < 0.99
    assert codec.tile_ssim(reference, reference[np.newaxis]) == pytest.approx(np.ones((1, 2)))


@pytest.mark.parametrize("setting", [{"bpp": 0.2}, {"bpp": 0.3}, {"bpp": 0.4},
                                     {"min_quality": 0.6}, {"min_quality": 0.65},
                                     {"min_quality": 0.9}])
def test_adaptive_is_never_worse_than_the_same_count_for_every_tile(trained, setting):
    from pipelines.image_compression import data as compression_data

    photo = compression_data._bundled_photo("sklearn:flower.jpg")[100:164, 100:228]
    adaptive = codec.compress(trained, photo, **setting)
    uniform = codec.compress(trained, photo, adaptive=False, **setting)
    if "bpp" in setting:
        assert adaptive.bpp <= setting["bpp"] and adaptive.ms_ssim >= uniform.ms_ssim
    else:
        target = setting["min_quality"]
        # Reaches the target, or (out of reach) is the uniform file with every iteration.
        assert adaptive.ms_ssim >= target or adaptive.stream == uniform.stream
        if uniform.ms_ssim >= target:
            assert len(adaptive.stream) <= len(uniform.stream)


def test_adaptive_stream_decodes_like_fixed_iterations_of_the_same_tiles(trained):
    image = _flat_and_textured(5)
    full = codec.compress(trained, image)  # every tile every iteration: no counts stored
    assert full.tile_iterations is None and full.iterations == trained.iterations
    _, grid = codec.to_tiles(image)
    _, codes = trained.read_stream(full.stream)
    counts = np.array([1, 2, 3, 4, 4, 3, 1, 2])  # the 2 × 4 tiles' own iterations
    stream = trained.write_stream(image.shape[:2], codes, counts, "best")
    assert len(stream) < len(full.stream)
    restored, header, k = codec.decompress(trained, stream)
    assert header.tile_iterations == tuple(counts) and k == counts.max()
    # Each tile as a fixed-iteration decode of that tile at its count.
    per_iteration = trained.decode_tiles(codes)
    expected = codec.from_tiles(codec.select(per_iteration, counts), grid, image.shape[:2])
    np.testing.assert_array_equal(restored, expected)
    # Progressive: cut after 1 chunk, every tile shows its first iteration.
    first, _, k = codec.decompress(trained, bitstream.cut(stream, 1))
    assert k == 1
    np.testing.assert_array_equal(first, codec.from_tiles(per_iteration[0], grid, (64, 128)))


def test_random_crops_stay_inside_the_photo_and_favour_texture():
    # Pixel values say where they come from: red = row, green = column.
    rows, cols = np.meshgrid(np.arange(50), np.arange(200), indexing="ij")
    photo = np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.uint8)
    photo[:, :100, 2] = 7  # flat blue on the left, noise on the right
    photo[:, 100:, 2] = np.random.default_rng(6).integers(0, 256, (50, 100))
    sampler = crops.CropSampler([photo], seed=0, shuffle=0.0)
    batch = np.round((sampler.sample(400) + 0.5) * 255).astype(int)
    assert batch.shape == (400, 32, 32, 3)
    lefts = []
    for crop in batch:
        r, c = crop[..., 0], crop[..., 1]
        # Whole rows and columns of a 32×32 window (flipped or not), inside the photo.
        assert sorted(r[:, 0]) == list(range(r.min(), r.min() + 32)) and r.max() < 50
        assert sorted(c[0]) == list(range(c.min(), c.min() + 32)) and c.max() < 200
        lefts.append(c.min())
        for a in (0, 1):
            assert np.ptp(crop[..., a], axis=1 - a).max() == 0
    lefts = np.array(lefts)
    # As many positions lie wholly in each half; the busy one is drawn far more often.
    assert np.mean(lefts >= 100) > 2 * np.mean(lefts + 32 <= 100)
    flipped = [crop[0, 0, 1] > crop[0, -1, 1] for crop in batch]
    assert 0.3 < np.mean(flipped) < 0.7
    with pytest.raises(ValueError, match="smaller than a 32×32 crop"):
        crops.CropSampler([photo[:20]])


def test_random_crops_shuffle_colour_channels_as_configured():
    # Each channel's values lie in its own range, so a crop's channel order can be read back.
    rows, cols = np.meshgrid(np.arange(40), np.arange(90), indexing="ij")
    photo = np.stack([rows, 60 + cols, 200 + (rows + cols) % 50], axis=-1).astype(np.uint8)

    def orders(shuffle: float) -> list[tuple[int, ...]]:
        batch = np.round((crops.CropSampler([photo], 1, shuffle).sample(600) + 0.5) * 255)
        return [tuple(int(np.digitize(crop[..., c].min(), [60, 200])) for c in range(3))
                for crop in batch]

    assert set(orders(0.0)) == {(0, 1, 2)}
    shuffled = orders(1.0)
    counts = {o: shuffled.count(o) for o in set(shuffled)}
    # Every order but the photo's own, about equally often (600 / 5 = 120 each).
    assert sorted(counts) == [(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    assert all(80 < n < 160 for n in counts.values())
    assert 0.4 < np.mean([o == (0, 1, 2) for o in orders(0.5)]) < 0.6


def _cross_channel_maps(rng, iterations=2, rows=8, cols=8, channels=8):
    """Code maps where each channel but the first repeats the one before with probability
    0.9: what a table of neighbours and the previous iteration cannot see."""
    maps = []
    for _ in range(iterations):
        bits = np.where(rng.random((rows, cols, channels)) < 0.5, 1.0, -1.0)
        for c in range(1, channels):
            keep = rng.random((rows, cols)) < 0.9
            bits[..., c] = np.where(keep, bits[..., c - 1], -bits[..., c - 1])
        maps.append(bits)
    return maps


def test_logistic_layer_learns_cross_channel_bits_and_codes_them_exactly(tmp_path):
    rng = np.random.default_rng(11)
    sequences = [_cross_channel_maps(rng) for _ in range(40)]
    table = entropy_model.fit(sequences, 2, stacked=False)
    stacked = entropy_model.fit(sequences, 2)
    assert stacked.stacked and not table.stacked and stacked.id != table.id
    assert stacked.weights.dtype == np.int64 and stacked.weights.shape == (2, 8, 54)
    maps = _cross_channel_maps(np.random.default_rng(12))
    mask = np.ones(maps[0].shape[:2], bool)
    mask[0, :3] = False  # stopped tiles' cells carry no bits
    previous = None
    for t, current in enumerate(maps):
        current = current * mask[..., None]
        payload = stacked.encode(t, current, mask, previous)
        np.testing.assert_array_equal(stacked.decode(t, payload, mask, 8, previous), current)
        # The channel before predicts 90 % of the bits: ~0.47 bits each past the first
        # channel, against ~1 for the table.
        assert (stacked.ideal_bits(t, current, mask, previous)
                < 0.7 * table.ideal_bits(t, current, mask, previous))
        previous = current
    stacked.save(str(tmp_path))
    loaded = entropy_model.ContextModel.load(str(tmp_path))
    assert loaded.stacked and loaded.id == stacked.id
    np.testing.assert_array_equal(loaded.weights, stacked.weights)


def test_phased_tables_without_the_logistic_layer_still_decode_their_payloads():
    """Payloads a phased table without the layer wrote for these bits, byte for byte."""
    rng = np.random.default_rng(13)
    model = entropy_model.ContextModel(np.round(rng.random((2, 4, entropy_model.PHASES,
                                                             entropy_model.CONTEXTS)), 2))
    maps = [np.where(rng.random((5, 6, 4)) < 0.5, 1.0, -1.0) for _ in range(2)]
    mask = np.ones((5, 6), bool)
    mask[4, 5] = False
    assert model.id == 4286767537 and not model.stacked
    previous = None
    for t, payload in enumerate(["ffcc1319e5be7ae37277064f45e95861a471d6b4a50e569d",
                                 "e9550cfe535a7f9096c1ea6b64d3fdee671fe7ebd72e0ad2"]):
        current = maps[t] * mask[..., None]
        assert model.encode(t, current, mask, previous).hex() == payload
        np.testing.assert_array_equal(
            model.decode(t, bytes.fromhex(payload), mask, 4, previous), current)
        previous = current

"""Image-compression pipeline pieces: the held-out data split, the Trainer's export (encode /
decode signatures that speak the .rgc format), and the rate–distortion evaluation hook."""
import glob
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from models.image_compression import bitstream, codec, deblocking, evaluation, quality
from pipelines.image_compression import data as compression_data
from tests.image_compression import raw_size


def _records(path):
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(sorted(glob.glob(path)))]


def _images(records):
    return [np.asarray(Image.open(io.BytesIO(r.features.feature["image"].bytes_list.value[0])))
            for r in records]


def _same_images(images, expected) -> bool:
    """The same images, in any order."""
    key = lambda image: (image.shape, image.tobytes())  # noqa: E731
    return sorted(map(key, images)) == sorted(map(key, expected))


def test_bundled_photos_are_split_by_photo(bundled_data):
    train = _images(_records(os.path.join(bundled_data, "train", "*.tfrecord")))
    held_out = _images(_records(os.path.join(bundled_data, "eval", "*.tfrecord")))
    # The three held-out photos whole (≥ 176 px a side: five MS-SSIM scales), shuffled.
    assert _same_images(held_out, [compression_data._bundled_photo(name)
                                   for name in compression_data.EVAL_PHOTOS])
    # 16 patches from each of the 17 training photos, none from a held-out one, shuffled.
    assert len(train) == 17 * 16 and all(p.shape == (32, 32, 3) for p in train)
    first = compression_data._bundled_photo(compression_data.TRAIN_PHOTOS[0])[:32, :32]
    assert any(np.array_equal(p, first) for p in train)
    assert not np.array_equal(train[0], first)
    assert not set(compression_data.TRAIN_PHOTOS) & set(compression_data.EVAL_PHOTOS)


def test_user_folder_holds_out_every_fifth_image(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(6)]
    for i, photo in enumerate(photos):
        Image.fromarray(photo).save(folder / f"p{i}.png")
    out = compression_data.build_from_folder(str(folder), str(tmp_path / "cache"))
    held_out = _images(_records(os.path.join(out, "eval", "*.tfrecord")))
    assert _same_images(held_out, [photos[0], photos[5]])
    # The others whole: the Trainer crops them at random every step.
    train = _images(_records(os.path.join(out, "train", "*.tfrecord")))
    assert _same_images(train, photos[1:5])
    (folder / "p6.png").write_text("no")
    with pytest.raises(compression_data.ShipyardError, match="unreadable image .*p6.png"):
        compression_data.build_from_folder(str(folder), str(tmp_path / "cache"))
    with pytest.raises(compression_data.ShipyardError, match="needs at least 2"):
        compression_data.build_from_folder(str(tmp_path / "cache"), str(tmp_path / "cache"))


def test_ms_ssim_matches_tensorflow():
    photo = compression_data._bundled_photo("skimage:astronaut.png")[:300, :257]
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 12, photo.shape), 0,
                    255).astype(np.uint8)
    expected = tf.image.ssim_multiscale(tf.constant(photo[None], tf.float32),
                                        tf.constant(noisy[None], tf.float32), 255.0)
    assert quality.ms_ssim(photo, noisy) == pytest.approx(float(expected[0]), abs=1e-4)
    assert quality.ms_ssim(photo, photo) == pytest.approx(1.0)
    assert quality.psnr(photo, noisy) == pytest.approx(
        float(tf.image.psnr(photo, noisy, 255)), abs=1e-3)


def _png(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_export_signatures_speak_the_rgc_format(exported):
    serving_dir, _ = exported
    loaded = tf.saved_model.load(serving_dir)
    assert set(loaded.signatures) == {"serving_default", "encode", "decode"}
    assert os.path.isfile(os.path.join(serving_dir, "assets.extra", "tf_serving_warmup_requests"))
    trained = codec.Codec.load(codec.find_model(serving_dir, "unused"))
    image = compression_data._bundled_photo("skimage:coffee.png")[:45, :70]
    stream = loaded.signatures["encode"](image_bytes=tf.constant([_png(image)]),
                                         iterations=tf.constant([3]))["code_bytes"].numpy()[0]
    # The served stream is version 1 of the codec's own file: same header fields, same bits.
    ours = codec.compress(trained, image, iterations=3, coder="raw").stream
    size = trained.chunk_bytes(45, 70)
    header = bitstream.read_header(stream)
    assert (header.version, header.width, header.height, header.iterations) == (1, 70, 45, 3)
    assert header.model_id == trained.model_id
    assert bitstream.read(stream, size)[1] == bitstream.read(ours, size)[1]
    assert len(stream) == bitstream.V1_HEADER_SIZE + 3 * (bitstream.CHUNK_HEADER_SIZE
                                                        + 64 * 96 // 8 // 8)
    # decode reads raw and zlib streams, a progressive cut, and version 3 files deblocked
    # (every level) and grey as `shipyard decompress` finishes them.
    _, codes = trained.read_stream(stream)
    zlib_stream = trained.write_stream((45, 70), codes, None, "zlib")
    finished = [trained.write_stream((45, 70), codes, None, "zlib", grey=level % 2 == 1,
                                     deblocking_level=level)
                for level in range(len(deblocking.LEVELS) + 1)]
    streams = [stream, zlib_stream, bitstream.cut(stream, 1), *finished]
    pngs = loaded.signatures["decode"](code_bytes=tf.constant(streams))["png_bytes"].numpy()
    images = [np.asarray(Image.open(io.BytesIO(p))) for p in pngs]
    expected, _, _ = codec.decompress(trained, stream)
    np.testing.assert_array_equal(images[0], expected)
    np.testing.assert_array_equal(images[1], expected)
    for served, sent in zip(images[2:], streams[2:], strict=True):
        np.testing.assert_array_equal(served, codec.decompress(trained, sent)[0])
    for bad, message in [(stream[:-2], "an iteration is cut"), (b"GIF89a" + bytes(40),
                                                                "not a Residual-GRU"),
                         (stream[:12], "header is incomplete")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            loaded.signatures["decode"](code_bytes=tf.constant([bad]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="image too small"):
        loaded.signatures["encode"](image_bytes=tf.constant([_png(image[:8])]),
                                    iterations=tf.constant([1]))


def test_rate_distortion_evaluation(exported):
    serving_dir, examples = exported
    result = evaluation.evaluate(serving_dir, examples, "eval", {"iterations": 3, "limit": 1,
                                                                  "metric": "ms_ssim"})
    metrics = result.metrics
    assert result.baselines == {"jpeg": {"ms_ssim": metrics["jpeg_ms_ssim_k3"],
                                         "psnr": metrics["jpeg_psnr_k3"],
                                         "bpp": metrics["jpeg_bpp_k3"]}}
    assert metrics["photos"] == 1
    # The first held-out photo (which one depends on the prepared shards' seeded order).
    (photo,) = evaluation.read_photos(examples, "eval", 1)
    raw = [raw_size.raw_bpp(photo, k) for k in (1, 2, 3)]
    assert [metrics[f"bpp_raw_k{k}"] for k in (1, 2, 3)] == pytest.approx(raw)
    for k in (1, 2, 3):
        assert 0 < metrics[f"bpp_k{k}"] <= metrics[f"bpp_raw_k{k}"]
        assert 0 < metrics[f"ms_ssim_k{k}"] <= 1 and metrics[f"psnr_k{k}"] > 5
        assert 0 < metrics[f"jpeg_ms_ssim_k{k}"] <= 1
    assert metrics["ms_ssim"] == metrics["ms_ssim_k3"] and metrics["bpp"] == metrics["bpp_k3"]
    # One photo: the falls are the iterations whose figure is below the one before.
    for name in ("ms_ssim", "psnr"):
        row = [metrics[f"{name}_k{k}"] for k in (1, 2, 3)]
        assert metrics[f"{name}_falls"] == sum(b < a for a, b in zip(row, row[1:], strict=False))


def test_jpeg_baseline_is_jpeg_at_the_last_iterations_bytes():
    # 2 photos × 2 iterations × FIGURES (iterations, bpp, bpp_raw, ms_ssim, psnr, jpeg_bpp,
    # jpeg_ms_ssim, jpeg_psnr), by hand.
    table = np.array([[[1, 0.2, 0.3, 0.70, 25, 0.2, 0.60, 24],
                       [2, 0.4, 0.5, 0.80, 27, 0.4, 0.75, 26]],
                      [[1, 0.2, 0.3, 0.60, 23, 0.2, 0.50, 22],
                       [2, 0.4, 0.5, 0.90, 29, 0.4, 0.85, 28]]])
    result = evaluation.summarize(table)
    assert result.metrics["ms_ssim"] == pytest.approx(0.85)
    assert result.baselines == {"jpeg": {"ms_ssim": pytest.approx(0.80), "psnr": 27.0,
                                         "bpp": pytest.approx(0.4)}}
    assert result.metrics["ms_ssim_falls"] == 0
    # The codec's 0.85 beats JPEG's 0.80 by 0.05: blessed at a lift of 0.05, not at 0.06.
    from components.family_evaluator import verdict

    assert verdict(0.85, None, None, baselines=result.baselines, min_lift=0.05,
                   metric="ms_ssim") == []
    assert verdict(0.85, None, None, baselines=result.baselines, min_lift=0.06,
                   metric="ms_ssim") == [
        "ms_ssim 0.8500 does not beat the jpeg baseline's 0.8000 by 0.06"]


def test_gate_rate_judges_the_files_compress_makes(exported):
    from models.image_compression import codec

    serving_dir, examples = exported
    result = evaluation.evaluate(serving_dir, examples, "eval", {"iterations": 3, "limit": 1,
                                                                  "gate_bpp": 0.3})
    metrics = result.metrics
    (photo,) = evaluation.read_photos(examples, "eval", 1)
    made = codec.compress(codec.Codec.load(codec.find_model(serving_dir, "")), photo, bpp=0.3)
    assert metrics["gate_bpp"] == 0.3 and made.bpp <= 0.3
    assert metrics["bpp"] == pytest.approx(made.bpp)
    assert metrics["ms_ssim"] == pytest.approx(made.ms_ssim)
    jpeg, _ = evaluation.jpeg_at(photo, len(made.stream))
    assert metrics["jpeg_bpp"] == pytest.approx(len(jpeg) * 8 / photo.shape[0] / photo.shape[1])
    assert result.baselines["jpeg"]["ms_ssim"] == metrics["jpeg_ms_ssim"]
    # The per-iteration figures are still there.
    assert 0 < metrics["ms_ssim_k3"] <= 1 and metrics["bpp_raw_k3"] > metrics["bpp_raw_k1"]


def test_operating_points_set_the_headline_and_the_baseline():
    table = np.array([[[1, 0.2, 0.3, 0.70, 25, 0.2, 0.60, 24]],
                      [[1, 0.2, 0.3, 0.60, 23, 0.2, 0.50, 22]]])
    # Per photo: bpp, ms_ssim, psnr, jpeg_bpp, jpeg_ms_ssim, jpeg_psnr.
    operating = np.array([[0.25, 0.90, 27, 0.24, 0.85, 26],
                          [0.24, 0.80, 25, 0.25, 0.82, 26]])
    result = evaluation.summarize(table, operating, 0.25)
    metrics = result.metrics
    assert metrics["ms_ssim"] == pytest.approx(0.85) and metrics["bpp"] == pytest.approx(0.245)
    assert metrics["ms_ssim_k1"] == pytest.approx(0.65)  # the iterations' figures stay
    assert metrics["gate_bpp"] == 0.25 and metrics["photos_beating_jpeg"] == 1
    assert result.baselines == {"jpeg": {"ms_ssim": pytest.approx(0.835),
                                         "psnr": pytest.approx(26.0),
                                         "bpp": pytest.approx(0.245)}}


def test_jpeg_at_matched_bitrate():
    photo = compression_data._bundled_photo("skimage:astronaut.png")
    data, decoded = evaluation.jpeg_at(photo, 20000)
    assert len(data) <= 20000 and decoded.shape == photo.shape
    bigger, _ = evaluation.jpeg_at(photo, 40000)
    assert len(data) < len(bigger) <= 40000
    smallest, _ = evaluation.jpeg_at(photo, 10)  # below JPEG's floor: quality 1
    assert len(smallest) > 10

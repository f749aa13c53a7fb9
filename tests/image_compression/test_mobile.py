"""The TFLite decoder for phones: one 32×32 decoder step converted, the recurrence on the host,
gated against the serving SavedModel on held-out photos, and the bundle an app decodes .rgc
files with."""
import json
import os

import numpy as np
import pytest

from components import mobile as components
from models.image_compression import bitstream, codec, mobile, quality
from pipelines.image_compression import data as compression_data
from tests.image_compression import raw_size


@pytest.fixture(scope="module")
def gated(exported, tmp_path_factory):
    """The mobile components on the tiny exported codec, float32, gated on one held-out photo
    (the e2e test builds float16 and dynamic, and qat_int8's fallback)."""
    serving_dir, examples = exported
    model_uri = os.path.dirname(serving_dir)
    out = tmp_path_factory.mktemp("mobile")
    config = {"module": "models.image_compression.mobile", "variants": ["float32"],
              "latency_runs": 5, "eval_limit": 1,
              "budgets": {"max_metric_drop": 0.01, "min_agreement": 0.95}}
    manifest = components.optimize_variants(model_uri, None, examples, config, str(out / "opt"))
    components.convert_variants(str(out / "opt"), None, examples, config, str(out / "tflite"),
                                model_uri=model_uri)
    results = components.gate_variants(str(out / "tflite"), model_uri, None, examples, config,
                                       str(out / "gate"))
    x, photos = mobile.load_split(None, examples, "eval", limit=1)
    return model_uri, mobile.prepare_split(model_uri, x), out, manifest, results


def _tflite(out, variant):
    return (out / "tflite" / variant / "model.tflite").read_bytes()


def test_float32_decoder_reproduces_the_saved_model_images(gated):
    _, x, out, manifest, results = gated
    (codes,) = x.codes
    assert codes.shape == (4, raw_size.tiles(x.photos[0]), 2, 2, 32)  # 4 iterations, all tiles
    decoded = mobile.tflite_predict(_tflite(out, "float32"), x)
    # Same codes, same pixels: at most one level of rounding apart, on few pixels.
    diff = np.abs(decoded.images[0].astype(int) - x.decoded[0].astype(int))
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3
    assert mobile.agreement(decoded, mobile.reference_predict(None, x)) == 1.0
    # The gate's reference is the SavedModel's decode at the codec's 4 iterations, scored as
    # the Evaluator scores it.
    assert results["reference_metric"] == pytest.approx(
        quality.ms_ssim(x.photos[0], x.decoded[0]), abs=1e-12)
    assert manifest["variants"][0]["name"] == "float32" and not manifest["messages"]
    float32 = results["variants"]["float32"]
    assert float32["metric"] == pytest.approx(results["reference_metric"], abs=1e-3)
    assert float32["agreement"] == 1.0 and float32["blessed"]
    assert float32["size_bytes"] == len(_tflite(out, "float32"))


def test_agreement_counts_tiles_within_half_a_decibel():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    reference = np.clip(photo.astype(int) + rng.integers(-8, 9, photo.shape), 0, 255)
    same = mobile.Decoded([reference.astype(np.uint8)], [photo])
    assert mobile.agreement(same, same) == 1.0
    worse = reference.copy()
    worse[:32, :32] = np.clip(worse[:32, :32] + rng.integers(-12, 13, (32, 32, 3)), 0, 255)
    # One of the six tiles is noisier by more than 0.5 dB: 5/6 agree.
    assert mobile.agreement(mobile.Decoded([worse.astype(np.uint8)], [photo]), same) == 5 / 6


def test_bundle_decodes_rgc_files_like_shipyard_decompress(gated):
    model_uri, _, out, _, _ = gated
    (name, data), = mobile.bundle_files(None, model_uri).items()
    info = json.loads(data)
    config = json.loads(open(os.path.join(mobile.codec_dir(model_uri), "codec.json")).read())
    assert name == "decoder.json"
    assert info["rgc_version"] == bitstream.VERSION == 3
    assert (info["patch_size"], info["bits_per_tile_per_iteration"]) == (32, 128)
    assert info["bits_per_pixel_per_iteration"] == 1 / 8
    assert (info["iterations"], info["gamma"]) == (4, 1.0)
    assert info["model_id"] == config["model_id"]
    trained = codec.Codec.load(mobile.codec_dir(model_uri))
    photo = compression_data._bundled_photo("skimage:coffee.png")[:45, :70]
    stream = codec.compress(trained, photo, iterations=3, coder="lzma").stream
    expected, _, _ = codec.decompress(trained, stream)
    image = mobile.decompress(_tflite(out, "float32"), info, stream)
    assert image.shape == (45, 70, 3)
    assert np.abs(image.astype(int) - expected.astype(int)).max() <= 1
    assert quality.psnr(expected, image) > 60
    progressive = mobile.decompress(_tflite(out, "float32"), info, bitstream.cut(stream, 1))
    assert np.abs(progressive.astype(int)
                  - codec.decompress(trained, bitstream.cut(stream, 1))[0]).max() <= 1
    # Files the bundle cannot read: entropy-model chunks, per-tile iterations.
    with pytest.raises(bitstream.FormatError, match="coded with a codec's entropy model"):
        mobile.decompress(_tflite(out, "float32"), info,
                          codec.compress(trained, photo, iterations=3, coder="model").stream)
    tiles, _ = codec.to_tiles(photo)
    codes, _ = trained.encode_tiles(tiles, 2)
    counts = np.r_[1, np.full(len(tiles) - 1, 2)]
    with pytest.raises(bitstream.FormatError, match="gives its tiles their own iteration counts"):
        mobile.decompress(_tflite(out, "float32"), info,
                          trained.write_stream((45, 70), codes, counts, "lzma"))
    with pytest.raises(bitstream.FormatError, match="not by this decoder's \\(ffff"):
        mobile.decompress(_tflite(out, "float32"), {**info, "model_id": "ff" * 8}, stream)

"""The image-compression pipeline end to end on a tiny budget: held-out photos, a codec
trained for a few steps, rate–distortion evaluation, infra validation and an atomic push, the
TFLite decoder variants gated on LiteRT and pushed as the mobile bundle; then `shipyard
compress` / `decompress` use the pushed codec by default, and the bundle decodes the same file."""
import glob
import json
import os

import numpy as np
import pytest
from PIL import Image

from models.image_compression import bitstream, codec, evaluation, mobile
from pipelines.cli import main
from pipelines.metadata import list_runs
from tests.image_compression import raw_size

pytestmark = pytest.mark.e2e
ARGS = ["run", "image-compression", "--alpha", "0.0625", "--iterations", "2",
        "--train-steps", "8", "--eval-steps", "1", "--batch-size", "16",
        "--max-patches-per-photo", "2", "--eval-photos", "1", "--min-ms-ssim", "0",
        "--min-lift", "-1",  # an 8-step codec need not beat JPEG here
        "--variants", "float32", "float16", "qat_int8"]


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("shipyard")
    assert main([*ARGS, "--output-dir", str(out)]) == 0
    return out


def test_trains_evaluates_and_pushes_the_codec(output_dir):
    base = output_dir / "serving" / "image_compression"
    (version,) = os.listdir(base)
    model = base / version
    assert (model / "saved_model.pb").is_file()
    assert (model / "assets.extra" / "codec" / "codec.json").is_file()
    (run,) = list_runs(str(output_dir / "metadata.sqlite"), "image-compression")
    assert run.status == "COMPLETE" and run.blessed is True and run.infra_blessed is True
    assert run.pushed_to == str(model)
    reports = output_dir / "pipelines" / "image-compression" / "reports"
    report = json.loads((reports / os.listdir(reports)[0]).read_text())
    metrics = report["metrics"]
    # One held-out photo: the raw stream's size follows from its dimensions.
    assert metrics["photos"] == 1
    (split,) = glob.glob(str(output_dir / "pipelines" / "image-compression" / "**"
                             / "ImportExampleGen" / "examples" / "*" / "Split-eval"),
                         recursive=True)
    (photo,) = evaluation.read_photos(os.path.dirname(split), "eval", 1)
    assert metrics["bpp_raw_k1"] == pytest.approx(raw_size.raw_bpp(photo, 1))
    assert 0 < metrics["ms_ssim_k2"] <= 1 and 0 < metrics["jpeg_ms_ssim_k2"] <= 1
    # Judged where it is used (the default --gate-bpp 0.25): the file `shipyard compress
    # --bpp 0.25` makes of the photo, against JPEG at its bytes.
    made = codec.compress(codec.Codec.load(codec.find_model(str(model), "")), photo, bpp=0.25)
    assert metrics["gate_bpp"] == 0.25 and metrics["bpp"] == pytest.approx(made.bpp)
    assert metrics["ms_ssim"] == pytest.approx(made.ms_ssim) and made.bpp <= 0.25
    assert metrics["photos_beating_jpeg"] == float(made.ms_ssim > metrics["jpeg_ms_ssim"])


def test_gates_and_pushes_the_tflite_decoder_bundle(output_dir):
    reports = output_dir / "pipelines" / "image-compression" / "reports"
    report = json.loads((reports / os.listdir(reports)[0]).read_text())
    gate = report["mobile"]
    assert gate["metric_name"] == "ms_ssim" and gate["eval_examples"] == 1
    # The reference is the SavedModel's decode of the same codes: the Evaluator's MS-SSIM at
    # the codec's last iteration.
    assert gate["reference_metric"] == pytest.approx(report["metrics"]["ms_ssim_k2"], abs=1e-9)
    # QAT has no scheme for the ConvGRU: qat_int8 falls back to dynamic range, with one line.
    assert gate["messages"] == [
        "qat_int8: QAT does not apply to LSTM/GRU models (TFMO has no 8-bit scheme for layer "
        "'gru_1'); using dynamic-range quantization"]
    assert set(gate["variants"]) == {"float32", "float16", "dynamic"}
    # Blessed: MS-SSIM within 0.01 of the SavedModel's, ≥ 95 % of tiles within 0.5 dB PSNR.
    assert all(r["blessed"] and r["agreement"] >= 0.95 for r in gate["variants"].values())
    sizes = {name: r["size_bytes"] for name, r in gate["variants"].items()}
    assert sizes["dynamic"] < sizes["float16"] < sizes["float32"]
    base = output_dir / "mobile" / "image_compression"
    (version,) = os.listdir(base)
    assert report["mobile_pushed_to"] == str(base / version)
    bundle = json.loads((base / version / "bundle.json").read_text())
    assert sorted(bundle["variants"]) == ["dynamic", "float16", "float32"]
    assert bundle["recommended"] in bundle["variants"]
    codec_json = json.loads((output_dir / "serving" / "image_compression"
                             / os.listdir(output_dir / "serving" / "image_compression")[0]
                             / "assets.extra" / "codec" / "codec.json").read_text())
    for variant in bundle["variants"]:
        folder = base / version / variant
        assert sorted(os.listdir(folder)) == ["decoder.json", "model.json", "model.tflite"]
        info = json.loads((folder / "decoder.json").read_text())
        assert (info["iterations"], info["gamma"], info["patch_size"]) == (2, 1.0, 32)
        assert info["model_id"] == codec_json["model_id"]
        assert info["rgc_version"] == bitstream.VERSION
        assert json.loads((folder / "model.json").read_text())["agreement_with_saved_model"] \
            == gate["variants"][variant]["agreement"]


def test_compress_and_decompress_use_the_pushed_codec(output_dir, tmp_path, capsys):
    photo = np.asarray(Image.open(os.path.join(os.path.dirname(__import__("skimage").__file__),
                                               "data", "chelsea.png")).convert("RGB"))[:90, :120]
    Image.fromarray(photo).save(tmp_path / "cat.png")
    argv = ["--output-dir", str(output_dir)]
    # Lossless chunks: the phone's bundle has no entropy model (see docs/image_compression.md).
    assert main(["compress", str(tmp_path / "cat.png"), str(tmp_path / "cat.rgc"), "--coder",
                 "lzma", *argv]) == 0
    assert main(["decompress", str(tmp_path / "cat.rgc"), str(tmp_path / "cat2.png"),
                 *argv]) == 0
    assert Image.open(tmp_path / "cat2.png").size == (120, 90)
    # The phone's decoder, from the pushed bundle alone, shows the same picture.
    (version,) = os.listdir(output_dir / "mobile" / "image_compression")
    folder = output_dir / "mobile" / "image_compression" / version / "float32"
    on_phone = mobile.decompress((folder / "model.tflite").read_bytes(),
                                 json.loads((folder / "decoder.json").read_text()),
                                 (tmp_path / "cat.rgc").read_bytes())
    desktop = np.asarray(Image.open(tmp_path / "cat2.png").convert("RGB"))
    assert np.abs(on_phone.astype(int) - desktop.astype(int)).max() <= 1
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "cat.png"), str(tmp_path / "x.rgc"),
                 "--output-dir", str(tmp_path / "empty")]) == 2
    assert "train one with `shipyard run image-compression`" in capsys.readouterr().err
    assert not (tmp_path / "x.rgc").exists()

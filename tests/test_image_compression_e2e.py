"""The image-compression pipeline end to end on a tiny budget: held-out photos, a codec
trained for a few steps, rate–distortion evaluation, infra validation and an atomic push;
then `shipyard compress` / `decompress` use the pushed codec by default."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from pipelines.cli import main
from pipelines.metadata import list_runs

pytestmark = pytest.mark.e2e
ARGS = ["run", "image-compression", "--alpha", "0.0625", "--iterations", "2",
        "--train-steps", "8", "--eval-steps", "1", "--batch-size", "16",
        "--max-patches-per-photo", "2", "--eval-photos", "1", "--min-ms-ssim", "0"]


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
    # One held-out photo (astronaut, 512²): each raw iteration is 512·512/8 bits + 9 bytes.
    assert metrics["photos"] == 1
    assert metrics["bpp_raw_k1"] == pytest.approx((26 + 9 + 512 * 512 // 64) * 8 / 512 ** 2)
    assert metrics["ms_ssim"] == metrics["ms_ssim_k2"] and 0 < metrics["ms_ssim"] <= 1
    assert 0 < metrics["jpeg_ms_ssim_k2"] <= 1


def test_compress_and_decompress_use_the_pushed_codec(output_dir, tmp_path, capsys):
    photo = np.asarray(Image.open(os.path.join(os.path.dirname(__import__("skimage").__file__),
                                               "data", "chelsea.png")).convert("RGB"))[:90, :120]
    Image.fromarray(photo).save(tmp_path / "cat.png")
    argv = ["--output-dir", str(output_dir)]
    assert main(["compress", str(tmp_path / "cat.png"), str(tmp_path / "cat.rgc"), *argv]) == 0
    assert main(["decompress", str(tmp_path / "cat.rgc"), str(tmp_path / "cat2.png"),
                 *argv]) == 0
    assert Image.open(tmp_path / "cat2.png").size == (120, 90)
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "cat.png"), str(tmp_path / "x.rgc"),
                 "--output-dir", str(tmp_path / "empty")]) == 2
    assert "train one with `shipyard run image-compression`" in capsys.readouterr().err
    assert not (tmp_path / "x.rgc").exists()

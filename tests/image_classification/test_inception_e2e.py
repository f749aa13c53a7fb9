"""Inception v3 through the whole pipeline on a user's folder of class sub-folders (JPEG and
PNG mixed), with a tiny step budget: the run is blessed, pushed and the pushed model answers."""
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipelines.cli import main
from pipelines.metadata import list_runs

pytestmark = pytest.mark.e2e
COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def _image_folder(root) -> str:
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(8):
            pixels = np.clip(np.array(colour) + rng.normal(0, 20, (40, 40, 3)), 0, 255)
            suffix = ("png", "jpg")[i % 2]
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.{suffix}")
    return str(root)


def test_inception_v3_pipeline_on_an_image_folder(tmp_path):
    data = _image_folder(tmp_path / "images")
    out = tmp_path / "out"
    assert main(["run", "image-classification", "--model", "inception_v3", "--data-dir", data,
                 "--train-steps", "2", "--batch-size", "4", "--eval-steps", "1",
                 # A 2-step model cannot beat the baseline; blessing rules: test_e2e.py.
                 "--min-accuracy", "0", "--min-lift", "-1",
                 "--variants", "none",  # TFLite: test_mobile.py
                 "--output-dir", str(out)]) == 0
    (run,) = list_runs(str(out / "metadata.sqlite"), "image-classification")
    assert run.status == "COMPLETE" and run.blessed is True and run.infra_blessed is True
    assert "Optimizer" not in run.components  # --variants none: no mobile components
    (version,) = os.listdir(out / "serving" / "image_classification")
    model = tf.saved_model.load(str(out / "serving" / "image_classification" / version))
    red = tf.io.encode_png(tf.constant(np.full((40, 40, 3), COLOURS["red"], np.uint8)))
    result = model.signatures["serving_default"](image_bytes=tf.stack([red]))
    assert result["probabilities"].shape == (1, 3)
    assert {label.decode() for label in result["top_k_labels"].numpy()[0]} == set(COLOURS)
    # Served without optimizer slots: the 23.8 M-parameter float model is ~90 MB, not ~270.
    size = sum(f.stat().st_size for f in (out / "serving" / "image_classification" / version)
               .rglob("*") if f.is_file())
    assert 80e6 < size < 120e6

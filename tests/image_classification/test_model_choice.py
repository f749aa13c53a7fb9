"""Budget-driven model choice: candidates screened on LiteRT, the most accurate one that fits."""
import numpy as np
import pytest

from models.image_classification import candidates
from pipelines.cli import main


def _candidate(alpha, accuracy, macs, reasons=()):
    return candidates.Candidate(alpha, 32, macs, 1000, 0.1, 0.1, accuracy, list(reasons))


def test_choose_takes_the_most_accurate_fitting_candidate_then_the_cheaper():
    small = _candidate(0.25, 0.90, 1.0)
    big = _candidate(0.5, 0.95, 3.0, ["size 0.5 MB > 0.3 MB"])
    tie = _candidate(0.5, 0.90, 2.0)
    assert candidates.choose([small, big, tie]) is small
    assert candidates.choose([big]) is None
    assert candidates.judge(0.5, 2.0, 0.3, 1.0) == ["size 0.500 MB > 0.3 MB",
                                                    "latency 2.000 ms > 1 ms"]
    assert candidates.judge(0.2, 0.5, 0.3, None) == []
    table = candidates.render([small, big], "int8", small)
    assert "| 0.25 | 32 |" in table and "yes (chosen)" in table and "no: size 0.5 MB" in table


def test_screen_measures_each_candidate_on_litert_and_applies_the_size_budget():
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.repeat((digits.images[:120, ..., None] * 16).astype(np.uint8), 3, axis=-1)
    images = [tf.io.encode_png(p).numpy() for p in pixels]
    labels = digits.target[:120].astype(np.int64)
    # α 0.25 at 32 px is ~0.3 MB as dynamic-range .tflite, α 0.5 ~4× the weights.
    screened = candidates.screen(images, labels, 10, [(0.25, 32), (0.5, 32)], "dynamic",
                                 train_steps=3, batch_size=16, learning_rate=1e-3,
                                 size_budget_mb=0.5, latency_budget_ms=None)
    small, big = screened
    assert (small.alpha, big.alpha) == (0.25, 0.5)
    assert small.params < big.params and small.macs_millions < big.macs_millions
    assert small.size_mb < 0.5 < big.size_mb
    assert small.fits and big.reasons == [f"size {big.size_mb:.3f} MB > 0.5 MB"]
    assert 0 <= small.accuracy <= 1 and small.latency_p50_ms > 0
    assert candidates.choose(screened) is small


@pytest.mark.parametrize("flags, message", [
    (["--model", "inception_v3", "--size-budget-mb", "1"], "has no such grid"),
    (["--latency-budget-ms", "-1"], "--latency-budget-ms must be positive"),
    (["--size-budget-mb", "1", "--grid-resolutions", "16"], "--grid-resolutions must be"),
])
def test_bad_budget_settings_stop_with_one_line(flags, message, capsys, tmp_path):
    assert main(["run", "image-classification", "--output-dir", str(tmp_path), *flags]) == 2
    assert message in capsys.readouterr().err

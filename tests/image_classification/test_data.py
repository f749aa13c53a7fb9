"""Input checks: bad data gets a one-line error and a non-zero exit, before any pipeline runs."""
import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.data_gate import summarize
from pipelines.cli import main
from pipelines.errors import ShipyardError
from pipelines.image_classification import data as image_data
from pipelines.tfrecords import find_shards


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((10, 10, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _folder(root, counts: dict[str, int]) -> str:
    for name, n in counts.items():
        os.makedirs(root / name, exist_ok=True)
        for i in range(n):
            (root / name / f"{i}.png").write_bytes(_png(i * 10))
    return str(root)


def test_digits_are_deterministic(tmp_path):
    a = image_data.build_digits(str(tmp_path / "a"))
    b = image_data.build_digits(str(tmp_path / "b"))
    shard = "digits-00000-of-00001.tfrecord"
    bytes_a = (tmp_path / "a" / shard).read_bytes()
    assert bytes_a == (tmp_path / "b" / shard).read_bytes()
    records = list(tf.data.TFRecordDataset(os.path.join(a, shard)))
    assert len(records) == 1797 and b
    example = tf.train.Example.FromString(records[0].numpy())
    image = tf.io.decode_png(example.features.feature["image"].bytes_list.value[0])
    assert image.shape == (8, 8, 1)
    # Shuffled when written: the first record is not the first digit (a 0) of the source.
    assert example.features.feature["label"].bytes_list.value[0] == b"7"


def test_folder_of_class_folders_becomes_tfrecords(tmp_path):
    data = _folder(tmp_path / "imgs", {"cat": 5, "dog": 6})
    out = image_data.prepare(data, str(tmp_path / "cache"), min_images_per_class=5)
    records = [tf.train.Example.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(find_shards(out, "images"))]
    labels = [r.features.feature["label"].bytes_list.value[0] for r in records]
    assert labels.count(b"cat") == 5 and labels.count(b"dog") == 6
    # Same folder, same cache entry: nothing is converted twice.
    assert image_data.prepare(data, str(tmp_path / "cache"), 5) == out


@pytest.mark.parametrize("setup, message", [
    (lambda p: str(p / "nope"), "data directory not found"),
    (lambda p: (p / "empty").mkdir() or str(p / "empty"), "is empty"),
    (lambda p: _folder(p / "one", {"a": 6}), "needs at least two class"),
    (lambda p: _folder(p / "few", {"a": 6, "b": 2}), "class 'b' has 2 image"),
])
def test_bad_data_dirs(tmp_path, setup, message):
    with pytest.raises(ShipyardError, match=message):
        image_data.prepare(setup(tmp_path), str(tmp_path / "cache"), min_images_per_class=5)


def test_unreadable_image_names_the_file(tmp_path):
    data = _folder(tmp_path / "imgs", {"a": 5, "b": 5})
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ShipyardError, match=r"unreadable image .*broken\.png"):
        image_data.prepare(data, str(tmp_path / "cache"), 5)
    # Nothing half-written is left for a later run to pick up.
    assert not any(f.endswith((".tfrecord", ".partial"))
                   for _, _, files in os.walk(tmp_path / "cache") for f in files)


def test_tfrecords_without_the_image_feature(tmp_path):
    example = tf.train.Example(features=tf.train.Features(feature={
        "pixels": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"])),
        "label": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a"]))}))
    with tf.io.TFRecordWriter(str(tmp_path / "d.tfrecord")) as w:
        w.write(example.SerializeToString())
    with pytest.raises(ShipyardError, match="no feature 'image' .*found: label, pixels"):
        image_data.prepare(str(tmp_path), str(tmp_path / "cache"), 5)


@pytest.mark.parametrize("argv, message", [
    (["--data-dir", "/definitely/missing"], "data directory not found: /definitely/missing"),
    (["--resolution", "16"], "--resolution 16 is too small for mobilenet_v1"),
    (["--model", "inception_v3", "--resolution", "64"], "too small for inception_v3"),
    (["--train-steps", "0"], "--train-steps must be at least 1"),
    (["--alpha", "-1"], "--alpha must be in"),
    (["--min-accuracy", "2"], "--min-accuracy must be in"),
    (["--input-cache-mb", "-1"], "--input-cache-mb must be at least 0, got -1.0"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    code = main(["run", "image-classification", "--output-dir", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "serving").exists()


def test_unknown_model_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "image-classification", "--model", "resnet"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'resnet'" in capsys.readouterr().err


def test_anomaly_summary_is_readable():
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info["label"]
    info.short_description = "Unexpected string values"
    info.description = "Examples contain values missing from the schema: horse (~1%)."
    missing = anomalies_pb2.Anomalies()
    missing.anomaly_info["image"].short_description = "Column dropped"
    text = summarize({"eval": anomalies, "train": missing, "other": anomalies_pb2.Anomalies()})
    assert text == ("eval split: feature 'label': Examples contain values missing from the "
                    "schema: horse (~1%).; train split: feature 'image': Column dropped")
    assert summarize({"train": anomalies_pb2.Anomalies()}) == ""

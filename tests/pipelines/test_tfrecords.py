"""Prepared records are written shuffled (seeded) and sharded, by one writer for every family."""
import itertools
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from pipelines.image_classification import data as image_data
from pipelines.tfrecords import find_shards, write_shuffled_shards


def _records(files):
    return [r.numpy() for r in tf.data.TFRecordDataset(files)]


def _longest_run(labels):
    return max(len(list(group)) for _, group in itertools.groupby(labels))


def _labels(files):
    return [tf.train.Example.FromString(r).features.feature["label"].bytes_list.value[0]
            for r in _records(files)]


def test_shards_hold_every_record_once_in_a_seeded_order(tmp_path):
    records = [f"record {i:04d} ".encode() * 10 for i in range(1000)]  # 110 bytes each
    files = write_shuffled_shards(records, str(tmp_path / "a"), "part", shard_bytes=20_000)
    # 110,000 bytes in 20,000-byte shards: 6 files of 166 or 167 records.
    assert [os.path.basename(f) for f in files] == [
        f"part-0000{i}-of-00006.tfrecord" for i in range(6)]
    assert [len(_records([f])) for f in files] == [167, 167, 167, 167, 167, 165]
    written = _records(files)
    assert sorted(written) == records and written != records
    again = write_shuffled_shards(records, str(tmp_path / "b"), "part", shard_bytes=20_000)
    assert [open(f, "rb").read() for f in files] == [open(f, "rb").read() for f in again]
    other_seed = write_shuffled_shards(records, str(tmp_path / "c"), "part", seed=1,
                                       shard_bytes=20_000)
    assert _records(other_seed) != written and sorted(_records(other_seed)) == records
    assert find_shards(str(tmp_path / "a"), "part") == files


def test_a_rewrite_replaces_old_files_and_an_incomplete_set_is_not_found(tmp_path):
    directory = tmp_path / "split"
    directory.mkdir()
    (directory / "part.tfrecord").write_bytes(b"an unsharded file of an earlier version")
    files = write_shuffled_shards([b"x" * 100] * 10, str(directory), "part", shard_bytes=400)
    assert sorted(os.listdir(directory)) == [os.path.basename(f) for f in files]
    assert len(files) == 3
    # No scratch left beside the directory either.
    assert os.listdir(tmp_path) == ["split"]
    os.remove(files[1])
    assert find_shards(str(directory), "part") is None


def test_a_class_sorted_folder_is_prepared_shuffled(tmp_path):
    # Four classes of 60 images, read in name order: 60-long runs of one label unshuffled.
    for name in "abcd":
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(60):
            Image.fromarray(np.full((4, 4), i, np.uint8), "L").save(
                tmp_path / "imgs" / name / f"{i:02d}.png")
    out = image_data.prepare(str(tmp_path / "imgs"), str(tmp_path / "cache"), 5)
    labels = _labels(find_shards(out, "images"))
    assert sorted(labels) == sorted([c.encode() for c in "abcd"] * 60)
    assert _longest_run(labels) <= 6
    # The first 40 records (an eval batch, say) hold every class.
    assert set(labels[:40]) == {b"a", b"b", b"c", b"d"}


def test_bundled_digits_are_written_in_the_seeded_permutation(tmp_path):
    from sklearn.datasets import load_digits

    out = image_data.build_digits(str(tmp_path / "digits"))
    labels = _labels(find_shards(out, "digits"))
    # Record i of the source goes to place permutation[i] (seed 0).
    place = np.random.default_rng(0).permutation(1797)
    expected = [str(t).encode() for t in load_digits().target[np.argsort(place)]]
    assert labels == expected
    assert _longest_run(labels) <= 5 and len(set(labels[:40])) == 10

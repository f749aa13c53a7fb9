"""TFRecord files of tf.Examples, as every family's data preparation writes and finds them.

Prepared records are written shuffled (a seeded permutation: a re-run writes the same bytes)
and in shards of about SHARD_BYTES. Preparers read users' folders in name order, so unshuffled
files hold one class after another; a Trainer's shuffle buffer then sees two or three classes
at a time. The shuffle is external (spilled to disk, then one shard at a time in memory), so
memory stays at one shard whatever the data size.
"""
from __future__ import annotations

import glob
import os
import shutil
import struct
import tempfile
from collections.abc import Iterable

TFRECORD_PATTERNS = ("*.tfrecord", "*.tfrecord.gz", "*.tfrecords", "*.tfrec")
# ~32 MB shards: TensorFlow's guidance is 10 MB+ per file for read throughput; smaller shards
# give interleaved readers more files to mix and bound the shuffle's memory (one shard).
SHARD_BYTES = 32 << 20
_HEADER = struct.Struct("<QQ")  # (index or place, length) before each spilled record


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}.tfrecord"


def find_shards(directory: str, prefix: str) -> list[str] | None:
    """The complete set of shards `write_shuffled_shards` wrote under `prefix`, or None."""
    files = sorted(glob.glob(os.path.join(directory, f"{prefix}-?????-of-?????.tfrecord")))
    if not files:
        return None
    count = int(files[0][-len("00000.tfrecord"):-len(".tfrecord")])
    expected = [os.path.join(directory, shard_name(prefix, i, count)) for i in range(count)]
    return expected if files == expected else None


def _append(f, key: int, record: bytes) -> None:
    f.write(_HEADER.pack(key, len(record)))
    f.write(record)


def _spilled(path: str):
    """The (key, record) pairs `_append` wrote to `path`, in order."""
    with open(path, "rb") as f:
        while header := f.read(_HEADER.size):
            key, size = _HEADER.unpack(header)
            yield key, f.read(size)


def write_shuffled_shards(records: Iterable[bytes], directory: str, prefix: str,
                          seed: int = 0, shard_bytes: int = SHARD_BYTES) -> list[str]:
    """Writes `records` to `<directory>/<prefix>-IIIII-of-NNNNN.tfrecord`, in a seeded random
    order, N = ceil(total bytes / shard_bytes) (at least 1). Any earlier `<prefix>*` files are
    removed first. Shards appear only when all are written (each renamed into place), so
    `find_shards` never returns a half-written set. Returns the shard paths."""
    import numpy as np
    import tensorflow as tf

    os.makedirs(directory, exist_ok=True)
    # Beside the directory, not in it: ExampleGen's patterns must never see the spill files.
    scratch = tempfile.mkdtemp(prefix=f".{prefix}-shuffle-", dir=os.path.dirname(
        os.path.abspath(directory)))
    try:
        # Pass 1: spill every record as is, counting them and their bytes.
        spill = os.path.join(scratch, "records")
        count, total = 0, 0
        with open(spill, "wb") as f:
            for record in records:
                _append(f, count, record)
                count += 1
                total += len(record)
        shards = max(1, min(count, -(-total // max(1, shard_bytes))))
        # Pass 2: deal each record to the shard of its place in a seeded permutation.
        place = np.random.default_rng(seed).permutation(count)
        per_shard = max(1, -(-count // shards))
        buckets = [os.path.join(scratch, f"bucket-{i}") for i in range(shards)]
        handles = [open(b, "wb") for b in buckets]  # noqa: SIM115 (closed below)
        try:
            for index, record in _spilled(spill):
                _append(handles[int(place[index]) // per_shard], int(place[index]), record)
        finally:
            for h in handles:
                h.close()
        os.remove(spill)
        # Pass 3: each shard in memory, in permutation order, to a partial file.
        partials = []
        for i, bucket in enumerate(buckets):
            partial = os.path.join(scratch, shard_name(prefix, i, shards))
            with tf.io.TFRecordWriter(partial) as writer:
                for _, record in sorted(_spilled(bucket)):
                    writer.write(record)
            os.remove(bucket)
            partials.append(partial)
        for old in glob.glob(os.path.join(directory, f"{prefix}*")):
            os.remove(old)
        final = [os.path.join(directory, os.path.basename(p)) for p in partials]
        for partial, path in zip(partials, final, strict=True):
            os.replace(partial, path)
        return final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def find_tfrecords(data_dir: str) -> list[str]:
    return sorted(f for p in TFRECORD_PATTERNS for f in glob.glob(os.path.join(data_dir, p)))

"""The tf.data input every Trainer shares, for data of any size and any order.

Records are never assumed shuffled (a user's TFRecords may hold one class after another): the
file list is shuffled, files are read interleaved in parallel, and records pass a shuffle
buffer. A dataset is cached in memory only when its estimated parsed size fits the input-cache
budget (`input_cache_mb`, by default a quarter of the memory available when the Trainer
starts); then it is shuffled whole every epoch. Otherwise it streams from disk with a shuffle
buffer of bounded bytes, so peak memory does not grow with the data.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

# Of the memory available when the Trainer starts: the model, its optimizer slots and
# TensorFlow's own buffers need the rest.
DEFAULT_BUDGET_SHARE = 0.25
# The streaming shuffle buffer's share of the budget, and its bounds in records.
BUFFER_SHARE = 0.25
MIN_BUFFER, MAX_BUFFER = 256, 65_536
# Decompressed bytes read to estimate the record count of compressed files.
SAMPLE_BYTES = 8 << 20


def available_memory_bytes() -> int:
    """MemAvailable of /proc/meminfo (free memory plus reclaimable page cache), or the free
    physical pages where there is no /proc."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cache_budget_bytes(budget_mb: float | None) -> int:
    """The input-cache budget: `budget_mb` MB, or by default a share of available memory."""
    if budget_mb is None:
        return int(available_memory_bytes() * DEFAULT_BUDGET_SHARE)
    return int(budget_mb * (1 << 20))


def _scan(path: str, limit: int) -> tuple[int, int, int, bool]:
    """(records, record bytes, file bytes consumed, whole file read) of the TFRecord framing
    (8-byte length, 4-byte CRC, data, 4-byte CRC), reading at most ~`limit` record bytes."""
    records = payload = 0
    with tf.io.gfile.GFile(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if path.endswith(".gz") else raw
        while payload < limit:
            header = stream.read(12)
            if len(header) < 12:
                return records, payload, raw.tell(), True
            (length,) = struct.unpack("<Q", header[:8])
            stream.seek(length + 4, os.SEEK_CUR)
            records += 1
            payload += length
        return records, payload, raw.tell(), False


def _size(path: str) -> int:
    return tf.io.gfile.stat(path).length


def count_records(files: list[str], sample_bytes: int = SAMPLE_BYTES) -> tuple[int, int]:
    """(records, serialized bytes) of TFRecord files (plain or GZIP): counted in the files
    read within `sample_bytes` of records, extrapolated to the rest by file size."""
    records = payload = scanned = 0
    for path in files:
        if payload >= sample_bytes:
            break
        n, size, consumed, whole = _scan(path, sample_bytes - payload)
        records, payload = records + n, payload + size
        scanned += _size(path) if whole else consumed
    rest = sum(_size(path) for path in files) - scanned
    if rest > 0 and scanned:
        records += round(rest * records / scanned)
        payload += round(rest * payload / scanned)
    return records, payload


def feature_spec_bytes(feature_spec: dict[str, Any]) -> int:
    """Bytes of one parsed example's fixed-shape numeric features (a tf.io feature spec)."""
    return sum(int(np.prod(f.shape, dtype=np.int64)) * f.dtype.size
               for f in feature_spec.values()
               if isinstance(f, tf.io.FixedLenFeature) and f.dtype != tf.string)


@dataclasses.dataclass(frozen=True)
class InputPlan:
    """How a split is fed: cached in memory or streamed, with which shuffle buffer."""

    records: int
    estimated_bytes: int
    budget_bytes: int

    @property
    def cache(self) -> bool:
        return self.estimated_bytes <= self.budget_bytes

    @property
    def shuffle_buffer(self) -> int:
        """Every record when cached (a full shuffle each epoch); otherwise a buffer of at most
        BUFFER_SHARE of the budget, whatever the data size."""
        if self.cache:
            return max(1, self.records)
        per_record = max(1, self.estimated_bytes // max(1, self.records))
        return max(MIN_BUFFER, min(MAX_BUFFER,
                                   int(self.budget_bytes * BUFFER_SHARE) // per_record))

    def describe(self, split: str, sample: int | None = None) -> str:
        mb = 1 << 20
        size = f"~{self.records:,} records, ~{self.estimated_bytes / mb:,.0f} MB parsed"
        if sample:
            return (f"    {split} input: {size}; a sample of {min(sample, self.records):,} "
                    "spread over the split, cached")
        if self.cache:
            return (f"    {split} input: {size}, cached in memory "
                    f"(budget {self.budget_bytes / mb:,.0f} MB)")
        return (f"    {split} input: {size}, streamed from disk (over the "
                f"{self.budget_bytes / mb:,.0f} MB budget; shuffle buffer "
                f"{self.shuffle_buffer:,} records)")


def expand(patterns: list[str]) -> list[str]:
    """The files of glob `patterns` (as a Trainer's fn_args.train_files), sorted."""
    return sorted({f for p in patterns for f in tf.io.gfile.glob(p)})


def plan_input(files: list[str], budget_mb: float | None, bytes_per_record: int = 0,
               expansion: float = 1.0) -> InputPlan:
    """The plan of a split of TFRecord `files`: its parsed size is the record count times
    the larger of `bytes_per_record` (fixed-shape tensors) and the serialized size times
    `expansion` (e.g. decoded PNG pixels as float32)."""
    records, payload = count_records(files)
    per_record = max(bytes_per_record, int(payload / max(1, records) * expansion))
    return InputPlan(records, records * per_record, cache_budget_bytes(budget_mb))


def record_files(files: list[str], shuffle: bool, seed: int) -> tf.data.Dataset:
    """Serialized records of `files` (GZIP by name), files in a shuffled order (seeded; a new
    order every pass) read interleaved in parallel."""
    names = tf.data.Dataset.from_tensor_slices(sorted(files))
    if shuffle:
        names = names.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    compression = "GZIP" if files and all(f.endswith(".gz") for f in files) else ""
    return names.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type=compression),
        cycle_length=max(1, min(len(files), 8)), block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def cached_or_streamed(elements: tf.data.Dataset, plan: InputPlan, shuffle: bool,
                       seed: int) -> tf.data.Dataset:
    """Unbatched parsed `elements`, cached in memory when the plan allows, then shuffled:
    anew each pass for training (`shuffle`), once with a fixed seed for evaluation, so the
    first eval batches are a sample of every class and the same at every evaluation."""
    if plan.cache:
        elements = elements.cache()
    return elements.shuffle(plan.shuffle_buffer, seed=seed, reshuffle_each_iteration=shuffle)


def spread_sample(elements: tf.data.Dataset, records: int, count: int,
                  seed: int) -> tf.data.Dataset:
    """`count` of about `records` unbatched elements, every (records // count)-th, cached and
    shuffled once (seeded): a sample of the whole split whatever its order, the same at every
    evaluation, in memory of `count` elements only. The first pass reads the whole split."""
    stride = max(1, records // max(1, count))
    return (elements.shard(stride, 0).take(count).cache()
            .shuffle(count, seed=seed, reshuffle_each_iteration=False))


def tfxio_dataset(factory: Callable, files: list[str], schema: Any, plan: InputPlan,
                  batch_size: int, label_key: str | None, shuffle: bool,
                  seed: int, sample: int | None = None) -> tf.data.Dataset:
    """(features[, label]) batches of tf.Example `files` through a TFXIO dataset factory
    (`fn_args.data_accessor.tf_dataset_factory`), repeated forever: parsed once and cached
    when the plan allows, otherwise read with TFXIO's shuffled file list, parallel
    interleave and record buffer, parsed every pass. With `sample` (evaluation, not
    `shuffle`): a spread sample of that many examples (`spread_sample`)."""
    from tfx_bsl.public import tfxio

    if sample and not shuffle:
        options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label_key,
                                                 shuffle=False, num_epochs=1)
        elements = factory(files, options, schema).unbatch()
        return spread_sample(elements, plan.records, sample, seed).batch(batch_size).repeat()
    if plan.cache:
        options = tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label_key,
                                                 shuffle=False, num_epochs=1)
        elements = factory(files, options, schema).unbatch()
        return cached_or_streamed(elements, plan, shuffle, seed).batch(batch_size).repeat()
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size, label_key=label_key, shuffle=True,
        shuffle_buffer_size=plan.shuffle_buffer, shuffle_seed=seed, num_epochs=None,
        reader_num_threads=tf.data.AUTOTUNE)
    return factory(files, options, schema)

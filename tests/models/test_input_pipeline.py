"""The Trainers' input: never assumes shuffled files, caches only within its memory budget."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from models import input_pipeline
from models.input_pipeline import InputPlan

CLASSES, PER_CLASS = 4, 200


def _example(label: int, index: int) -> bytes:
    feature = {
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(index)] * 6)),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def class_sorted_files(tmp_path_factory):
    """One GZIP file per class, 200 examples each: the worst order a user's data can have."""
    directory = tmp_path_factory.mktemp("sorted")
    files = []
    for label in range(CLASSES):
        path = str(directory / f"class-{label}.tfrecord.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for i in range(PER_CLASS):
                writer.write(_example(label, label * PER_CLASS + i))
        files.append(path)
    return files


def _has_cache(dataset: tf.data.Dataset) -> bool:
    graph = tf.compat.v1.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    ops = {node.op for node in graph.node}
    ops |= {node.op for f in graph.library.function for node in f.node_def}
    return any(op.startswith("CacheDataset") for op in ops)


def test_count_records_is_exact_when_sampled_whole_and_close_when_extrapolated(
        class_sorted_files):
    records, payload = input_pipeline.count_records(class_sorted_files)
    assert records == CLASSES * PER_CLASS
    assert payload == sum(len(_example(c, c * PER_CLASS + i))
                          for c in range(CLASSES) for i in range(PER_CLASS))


def test_count_records_extrapolates_from_a_sample_by_file_size(tmp_path):
    files = []
    for k in range(3):
        files.append(str(tmp_path / f"{k}.tfrecord"))
        with tf.io.TFRecordWriter(files[-1]) as writer:
            for i in range(500):
                writer.write(b"r" * (20 + i % 7))
    # 500 records of 20-26 bytes per file, 16 bytes of framing each: 2,000 bytes of records
    # (about 83 of them) sampled, the rest extrapolated by bytes of file.
    estimated, payload = input_pipeline.count_records(files, sample_bytes=2_000)
    assert estimated != 1500 and abs(estimated - 1500) / 1500 < 0.02
    assert abs(payload - 3 * sum(20 + i % 7 for i in range(500))) / payload < 0.02


def test_the_plan_caches_only_what_fits_the_budget():
    big = InputPlan(records=1_000_000, estimated_bytes=12_288_000_000, budget_bytes=1 << 30)
    assert not big.cache
    # A quarter of the 1 GiB budget in 12,288-byte records.
    assert big.shuffle_buffer == (1 << 28) // 12_288 == 21_845
    small = InputPlan(records=1_797, estimated_bytes=22_081_536, budget_bytes=1 << 30)
    assert small.cache and small.shuffle_buffer == 1_797
    tiny_budget = InputPlan(records=1_797, estimated_bytes=22_081_536, budget_bytes=1 << 20)
    assert not tiny_budget.cache and tiny_budget.shuffle_buffer == input_pipeline.MIN_BUFFER
    assert tiny_budget.describe("train") == (
        "    train input: ~1,797 records, ~21 MB parsed, streamed from disk (over the 1 MB "
        "budget; shuffle buffer 256 records)")
    assert small.describe("eval", sample=1280) == (
        "    eval input: ~1,797 records, ~21 MB parsed; a sample of 1,280 spread over the "
        "split, cached")


def test_the_default_budget_is_a_quarter_of_available_memory(monkeypatch):
    monkeypatch.setattr(input_pipeline, "available_memory_bytes", lambda: 8 << 30)
    assert input_pipeline.cache_budget_bytes(None) == 2 << 30
    assert input_pipeline.cache_budget_bytes(64) == 64 << 20


def test_plan_input_sizes_the_parsed_data_from_the_feature_spec(class_sorted_files):
    spec = {"x": tf.io.FixedLenFeature([6], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.int64)}
    per_record = input_pipeline.feature_spec_bytes(spec)
    assert per_record == 6 * 4 + 8
    plan = input_pipeline.plan_input(class_sorted_files, budget_mb=1, bytes_per_record=1000)
    assert (plan.records, plan.estimated_bytes) == (800, 800_000) and plan.cache
    plan = input_pipeline.plan_input(class_sorted_files, budget_mb=0.5, bytes_per_record=1000)
    assert not plan.cache


def _labels(dataset, count):
    return [int(x) for x in dataset.take(count).as_numpy_iterator()]


@pytest.mark.parametrize("budget_bytes", [1 << 30, 1_000])
def test_training_input_covers_every_record_once_per_pass_in_mixed_order(
        class_sorted_files, budget_bytes):
    plan = InputPlan(records=800, estimated_bytes=800 * 32, budget_bytes=budget_bytes)

    def parse(record):
        features = tf.io.parse_single_example(record, {
            "x": tf.io.FixedLenFeature([6], tf.float32),
            "label": tf.io.FixedLenFeature([], tf.int64)})
        return features["x"][0], features["label"]

    records = input_pipeline.record_files(class_sorted_files, shuffle=True, seed=0).map(parse)
    dataset = input_pipeline.cached_or_streamed(records, plan, shuffle=True, seed=0)
    assert _has_cache(dataset) == plan.cache
    first, second = (list(dataset.as_numpy_iterator()) for _ in range(2))
    assert sorted(int(i) for i, _ in first) == list(range(800))  # every record, once
    assert sorted(int(i) for i, _ in second) == list(range(800))
    assert first != second  # reshuffled each pass
    # Any 64 consecutive examples (a batch) hold every class.
    for start in range(0, 800, 64):
        assert {int(c) for _, c in first[start:start + 64]} == set(range(CLASSES))


def _tfxio_dataset(files, plan, shuffle, sample=None):
    schema = tft.DatasetMetadata.from_feature_spec({
        "x": tf.io.FixedLenFeature([6], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64)}).schema

    def factory(patterns, options, schema):
        return tfxio.TFExampleRecord(patterns, schema=schema).TensorFlowDataset(options)

    return input_pipeline.tfxio_dataset(factory, files, schema, plan, batch_size=50,
                                        label_key="label", shuffle=shuffle, seed=0,
                                        sample=sample)


@pytest.mark.parametrize("budget_bytes, cached", [(1 << 30, True), (1_000, False)])
def test_tfxio_input_caches_within_budget_and_eval_samples_every_class(
        class_sorted_files, budget_bytes, cached):
    plan = InputPlan(records=800, estimated_bytes=800 * 32, budget_bytes=budget_bytes)
    train = _tfxio_dataset(class_sorted_files, plan, shuffle=True)
    assert _has_cache(train) == cached
    batches = list(train.take(16).as_numpy_iterator())  # one pass: 16 batches of 50
    ids = np.concatenate([features["x"][:, 0] for features, _ in batches])
    assert sorted(ids.astype(int).tolist()) == list(range(800))
    # Evaluation: 100 examples, every 8th of the class-sorted split, mixed once.
    evaluation = _tfxio_dataset(class_sorted_files, plan, shuffle=False, sample=100)
    first, again = ([(features["x"][:, 0].astype(int).tolist(), labels.tolist())
                     for features, labels in evaluation.take(2).as_numpy_iterator()]
                    for _ in range(2))
    assert first == again  # the same sample at every evaluation
    assert sorted(first[0][0] + first[1][0]) == list(range(0, 800, 8))
    assert set(first[0][1]) == set(range(CLASSES))  # the first eval batch spans the classes

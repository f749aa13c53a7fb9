"""Distributed data processing for real: the pipeline's Beam steps (ImportExampleGen,
StatisticsGen, Transform) run on Beam's portable runner in SDK worker processes of an
external worker pool (`shipyard beam-worker-pool`), as on a Flink or Spark cluster."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from pipelines import config
from pipelines.cli import build_parser
from pipelines.errors import ShipyardError


def test_worker_pool_setting_becomes_portable_runner_arguments():
    settings = {"beam_args": ["--direct_running_mode=in_memory", "--direct_num_workers=0",
                              "--max_cache_memory_usage_mb=0"],
                "beam_worker_pool": "localhost:50000"}
    assert config.beam_pipeline_args(settings) == [
        "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000", "--max_cache_memory_usage_mb=0"]
    # Without a pool, the configured arguments as they are.
    assert config.beam_pipeline_args({**settings, "beam_worker_pool": None}) == \
        settings["beam_args"]
    args = build_parser().parse_args(["run", "image-classification"])
    assert args.beam_worker_pool is None
    args = build_parser().parse_args(["run", "image-classification", "--beam-worker-pool",
                                      "pool:50000"])
    assert "--environment_config=pool:50000" in config.beam_pipeline_args(vars(args))


@pytest.mark.parametrize("pool", ["localhost", "localhost:x"])
def test_a_bad_worker_pool_is_a_one_line_error(pool):
    with pytest.raises(ShipyardError) as error:
        config.beam_pipeline_args({"beam_worker_pool": pool})
    assert str(error.value) == f"--beam-worker-pool must be HOST:PORT, got {pool!r}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


class WorkerPool:
    """`shipyard beam-worker-pool` in a process group of its own (with its workers)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "beam-worker-pool", "--port",
             str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until it listens
            with socket.socket() as s:
                if s.connect_ex(("localhost", self.port)) == 0:
                    return
            assert self.process.poll() is None, self.process.communicate()[1][-2000:]
            time.sleep(0.5)
        raise TimeoutError("the worker pool did not start")

    def stop(self) -> str:
        """Stops the pool and its workers; its log."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        return self.process.communicate(timeout=60)[1]


@pytest.fixture()
def worker_pool():
    pool = WorkerPool()
    yield pool
    pool.stop()


def test_statistics_gen_and_transform_run_on_the_worker_pool(worker_pool, tmp_path):
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from tfx.orchestration.pipeline import RunOptions
    from tfx.v1.orchestration import LocalDagRunner

    from pipelines import builder, registry
    from pipelines.family import PipelinePaths
    from pipelines.metadata import list_runs

    args = build_parser().parse_args([
        "run", "image-classification", "--output-dir", str(tmp_path), "--variants", "none",
        "--beam-worker-pool", f"localhost:{worker_pool.port}"])
    family = registry.get(args.pipeline)
    paths = PipelinePaths(str(tmp_path), family.pipeline_name)
    data_root = family.prepare_data(args, paths)  # the bundled digits
    pipeline = builder.create_pipeline(
        paths, data_root, family.pipeline_modules(args, paths),
        beam_args=config.beam_pipeline_args(vars(args)), metadata_path=paths.metadata)
    # The pipeline up to Transform: every Beam step of the data side.
    LocalDagRunner().run(pipeline, run_options=RunOptions(to_nodes=["Transform"]))
    log = worker_pool.stop()

    (run,) = list_runs(paths.metadata)
    assert run.components == {name: "COMPLETE" for name in (
        "ImportExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "DataGate",
        "Transform")}
    files = [os.path.join(r, f) for r, _, names in os.walk(paths.root) for f in names]
    (stats,) = [f for f in files if "StatisticsGen" in f and "Split-train" in f]
    train_examples = tfdv.load_stats_binary(stats).datasets[0].num_examples
    transformed = [f for f in files if "Transform" in f and "transformed_examples" in f
                   and "Split-train" in f]
    count = sum(1 for _ in tf.data.TFRecordDataset(transformed, compression_type="GZIP"))
    assert count == train_examples > 1000  # every train example, transformed
    # Transform computes no statistics (pipelines/builder.py): only these outputs (and TFX's
    # own .system folder of executor logs).
    assert set(os.listdir(os.path.join(paths.root, "Transform"))) - {".system"} == {
        "transform_graph", "transformed_examples", "updated_analyzer_cache"}
    # Each Beam job ran in a worker process the pool started: ImportExampleGen's,
    # StatisticsGen's, and Transform's.
    assert log.count("Starting worker with command") == 3

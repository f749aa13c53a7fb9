"""Compiles a registered pipeline for Kubeflow Pipelines / Vertex AI or Airflow.

The compiled pipeline is the one `shipyard run` executes locally (pipelines/builder.py), built
from the same registry and settings; nothing in it depends on the compiling machine: code is
referred to by module path (installed in the image), and the pipeline root and data location
are the target's (a run-time parameter for Kubeflow).
"""
from __future__ import annotations

import argparse
import os
import pprint
import shutil
import tempfile
from typing import Any

from pipelines import config, registry
from pipelines.family import Family, PipelinePaths

# Settings of a local run only: the compiled pipeline takes its root and data as arguments.
_LOCAL_ONLY = ("output_dir", "data_dir")


def portable_pipeline(pipeline: str, settings: dict[str, Any], pipeline_root: str,
                      data_root: Any, metadata: bool) -> Any:
    """The shared pipeline of `pipeline` with `settings`, writing under `pipeline_root`.

    With `metadata`, ML Metadata is a SQLite file under the root (Airflow needs one; Kubeflow
    brings its own store).
    """
    from pipelines import builder

    family = registry.get(pipeline)
    paths = PipelinePaths(pipeline_root, family.pipeline_name)
    modules = family.pipeline_modules(argparse.Namespace(**settings), paths)
    return builder.create_pipeline(
        paths, data_root, modules, beam_args=config.beam_pipeline_args(settings),
        enable_cache=not settings["no_cache"], schema_file=settings["schema"],
        metadata_path=paths.metadata if metadata else None)


def _portable_settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in _LOCAL_ONLY}


def _write_atomically(write, output: str) -> None:
    """Runs `write(path)` on a temporary file and renames it into place."""
    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private
        os.replace(temporary, output)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def compile_kubeflow(family: Family, settings: dict[str, Any],
                     pipeline_root: str, data_root: str, image: str, output: str) -> None:
    """Writes a Kubeflow Pipelines v2 / Vertex AI PipelineJob JSON with TFX's
    KubeflowV2DagRunner; `data_root` becomes the run-time parameter `data_root`."""
    from tfx import v1 as tfx

    data = tfx.dsl.experimental.RuntimeParameter(name="data_root", ptype=str,
                                                 default=data_root)
    pipeline = portable_pipeline(family.name, _portable_settings(settings), pipeline_root,
                                 data, metadata=False)

    def write(path: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
                config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
                    default_image=image),
                output_dir=scratch, output_filename="pipeline.json")
            runner.run(pipeline, parameter_values={"data_root": data_root}, write_out=True)
            shutil.copyfile(os.path.join(scratch, "pipeline.json"), path)

    _write_atomically(write, output)


_DAG_MODULE = '''"""Airflow DAG of Shipyard's {name} pipeline (written by `shipyard compile`).

Put this file in Airflow's dags folder on a host where Shipyard is installed. The pipeline is
built by the same code as `shipyard run {name}`, from the settings below.
"""
import datetime

# Shipyard's packages first: they set the Keras-2 switch before TensorFlow loads.
from pipelines.compiler import portable_pipeline
from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner, AirflowPipelineConfig

PIPELINE_ROOT = {root!r}
DATA_ROOT = {data!r}
SETTINGS = {settings}

DAG = AirflowDagRunner(AirflowPipelineConfig({{
    "schedule_interval": None,
    "start_date": datetime.datetime(2026, 1, 1),
}})).run(portable_pipeline({name!r}, SETTINGS, PIPELINE_ROOT, DATA_ROOT, metadata=True))
'''


def compile_airflow(family: Family, settings: dict[str, Any],
                    pipeline_root: str, data_root: str, output: str) -> None:
    """Writes an Airflow DAG module that builds the pipeline with TFX's AirflowDagRunner."""
    settings = _portable_settings(settings)
    # Build it once here, so that bad settings fail now rather than in Airflow's scheduler.
    portable_pipeline(family.name, settings, pipeline_root, data_root, metadata=False)
    text = _DAG_MODULE.format(name=family.pipeline_name, root=pipeline_root, data=data_root,
                              settings=pprint.pformat(settings, sort_dicts=False, width=90))

    def write(path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    _write_atomically(write, output)

"""Configuration files and compiling pipelines for Kubeflow and Airflow.

The compiled pipeline must not depend on the compiling machine: no path of it (the checkout,
the working directory, the temporary directories of the test) may appear in what is written.
"""
import json
import os
import sys
import types

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipelines import config, registry
from pipelines.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = {"ImportExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "DataGate",
         "Transform", "Trainer", "Evaluator", "ServingInfraValidator", "Pusher", "Optimizer",
         "TFLiteConverter", "FidelityGate", "MobilePusher"}


def _show(capsys, *argv) -> dict:
    capsys.readouterr()
    assert main(["config", "show", "image-classification", *argv]) == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_every_flag_has_a_default_in_the_pipeline_config():
    import argparse

    from pipelines.config import add_common_arguments, configurable

    for family in registry.all_families():
        parser = argparse.ArgumentParser()
        family.add_arguments(parser)
        add_common_arguments(parser)
        assert set(configurable(parser)) == set(config.packaged(family.name)), \
            family.name


def test_effective_config_layers_file_then_flags(tmp_path, capsys):
    shipped = _show(capsys)
    assert shipped["train_steps"] == 1500 and shipped["alpha"] == 0.25
    assert shipped["resolution"] == 32  # filled in from the model
    # The pipeline's file overrides the common multi-processing default (small data).
    assert shipped["beam_args"] == ["--direct_running_mode=in_memory"]
    assert config.common()["beam_args"] == ["--direct_running_mode=multi_processing",
                                            "--direct_num_workers=0"]
    user = tmp_path / "mine.yaml"
    user.write_text("train_steps: 300\nmodel: inception_v3\nbeam_args: [--runner=DirectRunner]\n")
    mine = _show(capsys, "--config", str(user))
    assert (mine["train_steps"], mine["model"], mine["resolution"]) == (300, "inception_v3", 75)
    assert mine["beam_args"] == ["--runner=DirectRunner"]
    flags = _show(capsys, "--config", str(user), "--train-steps", "7",
                  "--beam-arg=--runner=FlinkRunner", "--beam-arg=--parallelism=2")
    assert flags["train_steps"] == 7 and flags["model"] == "inception_v3"
    assert flags["beam_args"] == ["--runner=FlinkRunner", "--parallelism=2"]


@pytest.mark.parametrize("text, message", [
    ("train_step: 3\n", "unknown setting 'train_step' for image_classification"),
    ("train_steps: many\n", "'train_steps' must be int, got 'many'"),
    ("model: resnet\n", "'model' must be one of mobilenet_v1, inception_v3, got 'resnet'"),
    ("no_cache: 3\n", "'no_cache' must be true or false"),
    ("beam_args: --runner=X\n", "'beam_args' must be a list"),
    ("train_steps: [1\n", "is not valid YAML (line 2)"),
    ("- 1\n- 2\n", "must be a mapping of setting: value"),
])
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, text, message):
    user = tmp_path / "bad.yaml"
    user.write_text(text)
    capsys.readouterr()
    assert main(["config", "show", "image-classification", "--config", str(user)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_missing_config_file(capsys):
    assert main(["run", "image-classification", "--config", "/nonexistent/c.yaml"]) == 2
    assert capsys.readouterr().err == "error: config file not found: /nonexistent/c.yaml\n"


def test_values_are_checked_like_flags(capsys):
    assert main(["config", "show", "image-classification", "--train-steps", "0"]) == 2
    assert "--train-steps must be at least 1" in capsys.readouterr().err
    assert main(["config", "show", "image-classification", "--cpu-devices", "2"]) == 2
    assert "--cpu-devices applies to --strategy mirrored only" in capsys.readouterr().err


def _machine_paths(tmp_path) -> list[str]:
    return [REPO, os.getcwd(), str(tmp_path), os.path.expanduser("~")]


@pytest.fixture(scope="module")
def kubeflow_spec(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp") / "spec.json"
    assert main(["compile", "image-classification", "--target", "kubeflow",
                 "--image", "registry.example/shipyard:0.1", "--pipeline-root",
                 "gs://bucket/shipyard", "--data-root", "gs://bucket/data/digits",
                 "--train-steps", "50", "--output", str(out)]) == 0
    return out


def test_kubeflow_spec_validates_and_is_portable(kubeflow_spec):
    job = json.loads(kubeflow_spec.read_text())
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(job["pipelineSpec"], spec)  # strict: unknown fields fail
    assert TASKS <= set(spec.root.dag.tasks)
    assert job["runtimeConfig"]["gcsOutputDirectory"] == \
        "gs://bucket/shipyard/pipelines/image-classification"
    assert job["runtimeConfig"]["parameters"]["data_root"] == \
        {"stringValue": "gs://bucket/data/digits"}
    text = kubeflow_spec.read_text()
    for path in _machine_paths(kubeflow_spec.parent):
        assert path not in text, path
    assert "registry.example/shipyard:0.1" in text
    assert "models.image_classification.trainer.run_fn" in text
    assert "gs://bucket/shipyard/serving/image_classification" in text
    assert '\\"train_steps\\": 50' in text or '"num_steps": 50' in text.replace("\\", "")
    assert oct(os.stat(kubeflow_spec).st_mode & 0o777) != "0o600"


def test_kubeflow_needs_an_image(tmp_path, capsys):
    assert main(["compile", "image-classification", "--target", "kubeflow", "--pipeline-root",
                 "gs://b/r", "--data-root", "gs://b/d", "--output", str(tmp_path / "x")]) == 2
    assert "--target kubeflow needs --image" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


class _FakeAirflowRunner:
    """Stands in for TFX's AirflowDagRunner where Apache Airflow is not installed: records
    the pipeline the DAG module builds."""

    built = []

    def __init__(self, config):
        self.config = config

    def run(self, pipeline):
        self.built.append((self.config, pipeline))
        return "dag"


def test_airflow_dag_module_builds_the_shared_pipeline(tmp_path, monkeypatch):
    dag_file = tmp_path / "dags" / "shipyard_image_classification.py"
    assert main(["compile", "image-classification", "--target", "airflow", "--pipeline-root",
                 "/srv/shipyard", "--data-root", "/srv/data/digits", "--train-steps", "40",
                 "--output", str(dag_file)]) == 0
    text = dag_file.read_text()
    # Airflow's safe mode only parses files that mention both words.
    assert "airflow" in text.lower() and "dag" in text.lower()
    for path in _machine_paths(tmp_path):
        assert path not in text, path

    fake = types.ModuleType("tfx.orchestration.airflow.airflow_dag_runner")
    fake.AirflowDagRunner = _FakeAirflowRunner
    fake.AirflowPipelineConfig = dict
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    namespace: dict = {}
    exec(compile(text, str(dag_file), "exec"), namespace)
    assert namespace["DAG"] == "dag"
    airflow_config, pipeline = _FakeAirflowRunner.built[-1]
    assert airflow_config["schedule_interval"] is None
    assert {c.id for c in pipeline.components} >= TASKS
    assert pipeline.pipeline_info.pipeline_root == "/srv/shipyard/pipelines/image-classification"
    assert pipeline.metadata_connection_config.sqlite.filename_uri == \
        "/srv/shipyard/metadata.sqlite"
    trainer = next(c for c in pipeline.components if c.id == "Trainer")
    assert json.loads(trainer.exec_properties["train_args"])["num_steps"] == 40


@pytest.mark.parametrize("pipeline", [d.name for d in registry.all_families()])
def test_every_pipeline_compiles_to_a_valid_portable_kubeflow_spec(pipeline, tmp_path):
    out = tmp_path / f"{pipeline}.json"
    assert main(["compile", pipeline, "--target", "kubeflow", "--image",
                 "registry.example/shipyard:0.1", "--pipeline-root", "gs://bucket/shipyard",
                 "--data-root", f"gs://bucket/data/{pipeline}", "--output", str(out)]) == 0
    job = json.loads(out.read_text())
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(job["pipelineSpec"], spec)  # strict: unknown fields fail
    tasks = set(spec.root.dag.tasks)
    assert {"ImportExampleGen", "Trainer", "Evaluator", "ServingInfraValidator",
            "Pusher"} <= tasks, tasks
    text = out.read_text()
    for path in _machine_paths(tmp_path):
        assert path not in text, path
    assert f"gs://bucket/shipyard/serving/{pipeline.replace('-', '_')}" in text

"""Apache Airflow runs the compiled image-classification DAG end to end.

Needs the optional Airflow environment (`make airflow` builds .venv-airflow); skipped without it.
The DAG module `shipyard compile --target airflow` writes is put in a fresh AIRFLOW_HOME's dags
folder; `airflow dags list` must load it without import errors and `airflow dags test` must run
every task of the pipeline to success and push a blessed model. Tiny budget: a few train steps,
no TFLite variants.
"""
import ast
import json
import os
import sqlite3
import subprocess

import pytest

from pipelines import compiler
from pipelines.cli import main
from pipelines.image_classification import data as image_data
from pipelines.metadata import open_store

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AIRFLOW_BIN = os.path.join(REPO, ".venv-airflow", "bin")
PIPELINE = "image-classification"
SETTINGS = ["--train-steps", "5", "--eval-steps", "2", "--variants", "none",
            "--min-accuracy", "0", "--min-lift", "-1"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(os.path.join(REPO, ".venv-airflow", ".installed")),
                       reason=".venv-airflow not installed: `make airflow` adds the optional "
                              "Apache Airflow environment"),
]


def _airflow_env(home) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Importing TensorFlow and TFX to build the pipeline takes longer than Airflow's 30 s
        # default on a busy host.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "900",
        "PATH": AIRFLOW_BIN + os.pathsep + os.environ.get("PATH", ""),
    }


def _airflow(*args: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(AIRFLOW_BIN, "airflow"), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=1800)


def _module_constant(path, name: str):
    """The literal a module assigns to `name`, read without running the module."""
    tree = ast.parse(path.read_text())
    (value,) = [node.value for node in tree.body if isinstance(node, ast.Assign)
                and [t.id for t in node.targets if isinstance(t, ast.Name)] == [name]]
    return ast.literal_eval(value)


def test_airflow_loads_and_runs_the_compiled_dag(tmp_path):
    home, root = tmp_path / "airflow", tmp_path / "shipyard"
    data = image_data.build_digits(str(tmp_path / "data"))
    dag_file = home / "dags" / "shipyard_image_classification.py"
    assert main(["compile", PIPELINE, "--target", "airflow", "--pipeline-root", str(root),
                 "--data-root", data, *SETTINGS, "--output", str(dag_file)]) == 0
    env = _airflow_env(home)

    migrate = _airflow("db", "migrate", env=env, cwd=tmp_path)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    # Listing parses the DAG file in its own process: let it do so beside the test run.
    listing = subprocess.Popen([os.path.join(AIRFLOW_BIN, "airflow"), "dags", "list", "-o",
                                "json"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    run = _airflow("dags", "test", PIPELINE, env=env, cwd=tmp_path)
    listed, errors = listing.communicate(timeout=1800)

    assert listing.returncode == 0 and "Failed to load" not in errors, errors[-3000:]
    dags = json.loads(next(line for line in listed.splitlines() if line.startswith("[{")))
    assert [(d["dag_id"], d["fileloc"]) for d in dags] == [(PIPELINE, str(dag_file))]

    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    with sqlite3.connect(home / "airflow.db") as db:
        runs = db.execute("SELECT state FROM dag_run WHERE dag_id = ?", (PIPELINE,)).fetchall()
        tasks = dict(db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ?",
                                (PIPELINE,)).fetchall())
    assert runs == [("success",)]
    assert (_module_constant(dag_file, "PIPELINE_ROOT"),
            _module_constant(dag_file, "DATA_ROOT")) == (str(root), data)
    pipeline = compiler.portable_pipeline(PIPELINE, _module_constant(dag_file, "SETTINGS"),
                                          str(root), data, metadata=True)
    assert tasks == {c.id: "success" for c in pipeline.components}

    # The Pusher pushed the blessed model atomically into the serving base under the root.
    serving = root / "serving" / "image_classification"
    (version,) = os.listdir(serving)
    assert version.isdigit() and (serving / version / "saved_model.pb").is_file()
    assert (serving / version / "assets.extra" / "tf_serving_warmup_requests").is_file()
    store = open_store(str(root / "metadata.sqlite"))
    (pushed,) = store.get_artifacts_by_type("PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
    assert pushed.custom_properties["pushed_destination"].string_value == str(serving / version)
    blessings = {a.custom_properties["producer_component"].string_value: a
                 for t in ("ModelBlessing", "InfraBlessing")
                 for a in store.get_artifacts_by_type(t)}
    assert {name: b.custom_properties["blessed"].int_value for name, b in blessings.items()} \
        == {"Evaluator": 1, "ServingInfraValidator": 1}
    assert "answered its warm-up requests" in \
        blessings["ServingInfraValidator"].custom_properties["reason"].string_value

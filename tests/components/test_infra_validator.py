"""The serving infra-validation component: bless only what loads and answers its warm-up."""
from __future__ import annotations

import os
import shutil

from tfx.types import channel, standard_artifacts

from components.infra_validator import Executor, ServingInfraValidator, validate_model
from tests.serving.helpers import save_tiny_model


def test_component_declares_model_in_infra_blessing_out():
    component = ServingInfraValidator(
        model=channel.Channel(type=standard_artifacts.Model), deadline_seconds=60)
    assert component.outputs["blessing"].type == standard_artifacts.InfraBlessing
    assert component.exec_properties["deadline_seconds"] == 60


def test_executor_blesses_a_servable_model(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    save_tiny_model(os.path.join(model.uri, "Format-Serving"), warmup=True)
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "blessing")
    os.makedirs(blessing.uri)
    Executor().Do({"model": [model]}, {"blessing": [blessing]},
                  {"deadline_seconds": 180, "model_name": "candidate"})
    assert blessing.get_int_custom_property("blessed") == 1
    assert os.path.exists(os.path.join(blessing.uri, "INFRA_BLESSED"))
    assert "answered its warm-up requests" in blessing.get_string_custom_property("reason")


def test_broken_model_and_short_deadline_are_not_blessed(tmp_path):
    good = save_tiny_model(str(tmp_path / "good"))
    broken = str(tmp_path / "broken")
    shutil.copytree(good, broken)
    with open(os.path.join(broken, "saved_model.pb"), "wb") as f:
        f.write(b"garbage")
    blessed, reason = validate_model(broken, deadline_seconds=180)
    assert not blessed
    assert reason.startswith("the model did not load: Could not parse SavedModel proto")

    blessed, reason = validate_model(good, deadline_seconds=0.5)
    assert (blessed, reason) == (False, "the model server did not start before the deadline")

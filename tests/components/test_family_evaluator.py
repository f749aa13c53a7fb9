"""FamilyEvaluator: the hook's metrics, threshold and no-regression blessing, and the blessing
contract that TFX's Pusher and LatestBlessedModelStrategy read."""
import json
import os
import sys
import types

import pytest
from tfx.types import standard_artifacts

from components import family_evaluator


@pytest.fixture()
def hook(monkeypatch):
    """A family hook whose metric is the number in each model's `score` file."""
    module = types.ModuleType("fake_family_hook")
    calls = []

    def evaluate(serving_model_dir, examples_uri, split, config):
        calls.append((serving_model_dir, examples_uri, split))
        with open(os.path.join(serving_model_dir, "score")) as f:
            return {"bleu": float(f.read()), "examples": 3.0}

    module.evaluate = evaluate
    module.calls = calls
    monkeypatch.setitem(sys.modules, "fake_family_hook", module)
    return module


def _model(tmp_path, name: str, score: float, artifact_id: int):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / name)
    os.makedirs(os.path.join(model.uri, "Format-Serving"))
    with open(os.path.join(model.uri, "Format-Serving", "score"), "w") as f:
        f.write(str(score))
    model.id = artifact_id
    return model


def _run(tmp_path, candidate, baseline=None, **config):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(tmp_path / "evaluation"), str(tmp_path / "blessing")
    inputs = {"examples": [examples], "model": [candidate]}
    if baseline:
        inputs["baseline_model"] = [baseline]
    settings = {"module": "fake_family_hook", "metric": "bleu", **config}
    executor = family_evaluator.FamilyEvaluator.EXECUTOR_SPEC.executor_class()
    executor.Do(inputs, {"evaluation": [evaluation], "blessing": [blessing]},
                {"config": json.dumps(settings)})
    return evaluation, blessing


def test_verdict_threshold_and_regression_in_both_directions():
    assert family_evaluator.verdict(30.0, 20.0, None) == []
    assert family_evaluator.verdict(19.0, 20.0, None) == ["19.0000 is below the threshold 20"]
    assert family_evaluator.verdict(30.0, 20.0, 31.0) == [
        "30.0000 regresses vs the latest blessed model's 31.0000"]
    assert family_evaluator.verdict(30.0, 20.0, 30.0) == []  # equal is not a regression
    # A loss-like metric: lower is better.
    assert family_evaluator.verdict(0.2, 0.5, 0.3, lower_is_better=True) == []
    assert len(family_evaluator.verdict(0.6, 0.5, 0.3, lower_is_better=True)) == 2


def test_blessed_candidate_carries_tfx_evaluator_properties(tmp_path, hook):
    candidate = _model(tmp_path, "candidate", 25.0, artifact_id=7)
    evaluation, blessing = _run(tmp_path, candidate, threshold=20.0, split="eval")
    assert hook.calls == [(os.path.join(candidate.uri, "Format-Serving"),
                           str(tmp_path / "examples"), "eval")]
    assert blessing.get_int_custom_property("blessed") == 1
    assert blessing.get_int_custom_property("current_model_id") == 7
    assert blessing.get_string_custom_property("current_model") == candidate.uri
    assert os.listdir(blessing.uri) == ["BLESSED"]
    assert family_evaluator.load_metrics(evaluation.uri) == {
        "overall": {"bleu": 25.0, "examples": 3.0}}
    assert "bleu: blessed" in (tmp_path / "evaluation" / "report.md").read_text()


def test_regression_vs_latest_blessed_is_not_blessed(tmp_path, hook):
    candidate = _model(tmp_path, "candidate", 25.0, artifact_id=8)
    baseline = _model(tmp_path, "baseline", 26.5, artifact_id=3)
    _, blessing = _run(tmp_path, candidate, baseline, threshold=20.0)
    assert len(hook.calls) == 2
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_int_custom_property("baseline_model_id") == 3
    assert "regresses" in blessing.get_string_custom_property("blessing_message")
    assert os.listdir(blessing.uri) == ["NOT_BLESSED"]


def test_a_hook_without_the_configured_metric_fails_clearly(tmp_path, hook):
    with pytest.raises(ValueError, match="returned no 'rouge'"):
        _run(tmp_path, _model(tmp_path, "candidate", 1.0, 1), metric="rouge")


def test_builder_wires_the_family_evaluator_presplit_data_and_mobile_without_transform(tmp_path):
    from pipelines import builder
    from pipelines.family import FamilyEvaluation, FamilyModules, PipelinePaths

    family = FamilyModules(
        preprocessing_fn=None, run_fn="models.x.run_fn", custom_config={},
        train_steps=1, eval_steps=1, presplit=True,
        evaluation=FamilyEvaluation("fake_family_hook", "bleu", 1.0),
        mobile={"module": "fake_family_hook", "variants": ["dynamic"]})
    pipeline = builder.create_pipeline(PipelinePaths(str(tmp_path), "family"), str(tmp_path),
                                       family)
    nodes = {c.id: c for c in pipeline.components}
    assert "Transform" not in nodes
    splits = nodes["ImportExampleGen"].exec_properties["input_config"]
    assert '"pattern": "train/*"' in splits and '"pattern": "eval/*"' in splits
    evaluator = nodes["Evaluator"]
    assert type(evaluator).__name__ == "FamilyEvaluator"
    assert json.loads(evaluator.exec_properties["config"])["metric"] == "bleu"
    assert set(evaluator.inputs) == {"examples", "model", "baseline_model"}
    # Without Transform the mobile components read ExampleGen's examples, no transform graph.
    gate = nodes["FidelityGate"]
    assert "transform_graph" not in gate.inputs
    assert gate.inputs["examples"].producer_component_id == "ImportExampleGen"
    assert nodes["Pusher"].inputs["model_blessing"].producer_component_id == "Evaluator"

"""FamilyEvaluator: the hook's metrics, threshold, no-regression and beat-the-baseline blessing,
the blessing contract that TFX's Pusher and LatestBlessedModelStrategy read, and TFMA's output
format (tfma.load_eval_result reads the evaluation)."""
import dataclasses
import json
import os
import sys
import types

import pytest
from tfx.types import standard_artifacts

from components import family_evaluator
from models.evaluation_hook import HookResult


@pytest.fixture()
def hook(monkeypatch):
    """A family hook whose metric is the number in each model's `score` file."""
    module = types.ModuleType("fake_family_hook")
    calls = []

    def evaluate(serving_model_dir, examples_uri, split, config):
        calls.append((serving_model_dir, examples_uri, split))
        with open(os.path.join(serving_model_dir, "score")) as f:
            metrics = {"bleu": float(f.read()), "examples": 3.0}
        if "fake_baselines" not in config:
            return metrics
        return HookResult(metrics, baselines=config["fake_baselines"],
                          slices={(("length", "short"),): {"bleu": 40.0}})

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


def test_verdict_beat_the_best_baseline_by_the_lift():
    baselines = {"frequency": {"recall_at_3": 0.08}, "bag_of_words": {"recall_at_3": 0.45},
                 "other": {"mrr": 0.9}}  # a baseline without the metric does not count

    def reasons(candidate, min_lift, **kwargs):
        return family_evaluator.verdict(candidate, None, None, baselines=baselines,
                                        min_lift=min_lift, metric="recall_at_3", **kwargs)

    assert reasons(0.46, 0.01) == []  # beats the best by exactly the lift
    assert reasons(0.57, 0.12) == []  # 0.57 - 0.45 is 0.12 despite floating point
    assert reasons(0.45, 0.01) == [
        "recall_at_3 0.4500 does not beat the bag-of-words baseline's 0.4500 by 0.01"]
    assert reasons(0.41, 0.01) == [
        "recall_at_3 0.4100 does not beat the bag-of-words baseline's 0.4500 by 0.01"]
    assert reasons(0.455, 0.01) != []  # above the baseline, but by less than the lift
    assert reasons(0.44, -0.02) == []  # a negative lift lets a model lose by that much
    assert reasons(0.1, None) == []  # no lift: baselines reported, not gated
    # Lower is better: the best baseline is the lowest one.
    loss = {"a": {"loss": 0.5}, "b": {"loss": 0.3}}
    assert family_evaluator.verdict(0.25, None, None, True, loss, 0.05, "loss") == []
    assert family_evaluator.verdict(0.26, None, None, True, loss, 0.05, "loss") == [
        "loss 0.2600 does not beat the b baseline's 0.3000 by 0.05"]
    # Every rule gives its own reason.
    assert len(family_evaluator.verdict(0.1, 0.2, 0.3, False, baselines, 0.01,
                                        "recall_at_3")) == 3


def test_losing_to_a_baseline_is_not_blessed_and_says_why(tmp_path, hook):
    candidate = _model(tmp_path, "candidate", 25.0, artifact_id=9)
    evaluation, blessing = _run(tmp_path, candidate, threshold=20.0, min_lift=1.0,
                                fake_baselines={"copy": {"bleu": 24.5}, "dictionary": {}})
    reason = "bleu 25.0000 does not beat the copy baseline's 24.5000 by 1"
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_string_custom_property("blessing_message") == reason
    assert os.listdir(blessing.uri) == ["NOT_BLESSED"]
    report = (tmp_path / "evaluation" / "report.md").read_text()
    assert "| metric | model | copy baseline | dictionary baseline | latest blessed |" in report
    assert "| bleu | 25.0000 | 24.5000 | - | - |" in report
    assert f"bleu: not blessed: {reason}" in report


def test_headline_is_recorded_in_metadata_and_read_back_without_tensorflow(tmp_path, hook):
    """`shipyard runs` reads the ModelEvaluation's custom properties; for runs recorded
    before them, the report.md table (which does not say which baseline is best)."""
    from pipelines.metadata import EvaluationSummary, evaluation_summary

    candidate = _model(tmp_path, "candidate", 25.0, artifact_id=9)
    evaluation, _ = _run(tmp_path, candidate, threshold=20.0, min_lift=1.0, fake_baselines={
        "copy": {"bleu": 24.5}, "bag_of_words": {"bleu": 20.25, "examples": 3.0}})
    assert evaluation.get_string_custom_property("metric") == "bleu"
    assert evaluation.get_float_custom_property("metric_value") == 25.0
    assert evaluation.get_string_custom_property("best_baseline") == "copy"
    assert evaluation.get_float_custom_property("best_baseline_value") == 24.5
    expected = EvaluationSummary(
        "bleu", {"bleu": 25.0, "examples": 3.0},
        {"copy": {"bleu": 24.5}, "bag_of_words": {"bleu": 20.25, "examples": 3.0}}, "copy")
    assert evaluation_summary(evaluation.mlmd_artifact.custom_properties,
                              evaluation.uri) == expected
    assert evaluation_summary({}, evaluation.uri) == dataclasses.replace(
        expected, best_baseline=None)
    assert evaluation_summary({}, str(tmp_path / "elsewhere")) == EvaluationSummary()


def test_tfma_loads_the_evaluation_with_baselines_slices_and_blessing(tmp_path, hook):
    import tensorflow_model_analysis as tfma

    from pipelines.metadata import load_metrics

    candidate = _model(tmp_path, "candidate", 25.0, artifact_id=7)
    latest = _model(tmp_path, "latest", 24.0, artifact_id=3)
    evaluation, blessing = _run(tmp_path, candidate, latest, threshold=20.0, min_lift=0.5,
                                fake_baselines={"copy": {"bleu": 3.5}})
    assert blessing.get_int_custom_property("blessed") == 1
    result = tfma.load_eval_result(evaluation.uri)
    by_slice = {key: metrics[""][""] for key, metrics in result.slicing_metrics}
    assert set(by_slice) == {(), (("length", "short"),)}
    assert by_slice[()] == {
        "bleu": {"doubleValue": 25.0}, "examples": {"doubleValue": 3.0},
        "baseline/copy/bleu": {"doubleValue": 3.5},
        "bleu_diff": {"doubleValue": 1.0}, "examples_diff": {"doubleValue": 0.0}}
    assert by_slice[(("length", "short"),)] == {"bleu": {"doubleValue": 40.0}}
    assert result.config.slicing_specs[0] == tfma.SlicingSpec()
    assert tfma.load_validation_result(evaluation.uri).validation_ok
    # The run report and `shipyard runs` read it back the same way.
    assert load_metrics(evaluation.uri) == {
        "overall": {"bleu": 25.0, "examples": 3.0, "baseline/copy/bleu": 3.5},
        "length=short": {"bleu": 40.0}}


def test_a_failed_validation_carries_the_reasons(tmp_path, hook):
    import tensorflow_model_analysis as tfma

    evaluation, _ = _run(tmp_path, _model(tmp_path, "candidate", 19.0, 1), threshold=20.0)
    validation = tfma.load_validation_result(evaluation.uri)
    assert not validation.validation_ok
    (per_slice,) = validation.metric_validations_per_slice
    assert [f.message for f in per_slice.failures] == ["19.0000 is below the threshold 20"]
    assert tfma.load_eval_result(evaluation.uri).slicing_metrics[0][1][""][""]["bleu"] == {
        "doubleValue": 19.0}


def test_floors_gate_further_metrics():
    metrics = {"bleu": 25.0, "examples": 3.0}
    assert family_evaluator.floor_failures(metrics, {"examples": 3.0}) == []  # at the floor
    assert family_evaluator.floor_failures(metrics, None) == []
    assert family_evaluator.floor_failures(metrics, {"examples": 4, "recall": 0.85}) == [
        ("examples", "examples 3.0000 is below its floor 4"),
        ("recall", "recall is not reported (its floor is 0.85)")]


def test_a_model_below_a_floor_is_not_blessed_and_tfma_names_the_metric(tmp_path, hook):
    import tensorflow_model_analysis as tfma

    evaluation, blessing = _run(tmp_path, _model(tmp_path, "candidate", 25.0, 1),
                                threshold=20.0, floors={"examples": 5.0})
    reason = "examples 3.0000 is below its floor 5"
    assert blessing.get_string_custom_property("blessing_message") == reason
    assert os.listdir(blessing.uri) == ["NOT_BLESSED"]
    (per_slice,) = tfma.load_validation_result(evaluation.uri).metric_validations_per_slice
    (failure,) = per_slice.failures
    assert (failure.metric_key.name, failure.metric_value.double_value.value,
            failure.message) == ("examples", 3.0, reason)
    assert "rule: at least examples 5" in (tmp_path / "evaluation" / "report.md").read_text()
    with open(os.path.join(evaluation.uri, family_evaluator.EVAL_CONFIG_FILE)) as f:
        specs = json.load(f)["evalConfig"]["metricsSpecs"][0]["metrics"]
    (floored,) = [m for m in specs if m["className"] == "examples"]
    assert floored["threshold"]["valueThreshold"]["lowerBound"] == 5.0

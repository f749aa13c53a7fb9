"""FamilyEvaluator: the Evaluator of families that score with their own hook (corpus BLEU,
recall@3 of reply clusters, rate-distortion, accuracy beside a logistic regression), with TFX
Evaluator's blessing contract and TFMA's output format.

The family's evaluation hook, named by dotted path in the JSON `config`, scores an exported
serving SavedModel on a raw split:

    evaluate(serving_model_dir: str, examples_uri: str, split: str, config: dict)
        -> models.evaluation_hook.HookResult | dict[str, float]

    config: {"module": "models.translation.evaluation", "metric": "bleu", "threshold": 20.0,
             "lower_is_better": false, "split": "eval", "limit": 500, "min_lift": 1.0,
             ...family keys}

`HookResult.metrics` are the model's metrics on the whole split; `HookResult.baselines` the
simplest models a practitioner would try instead ({"copy": {"bleu": 3.1}, ...}), scored by the
hook on the same examples; `HookResult.slices` optional per-slice metrics (reported, not
gated). A plain dict is the model's metrics alone.

Blessing: the candidate's `metric`
- passes `threshold` (when set);
- does not regress against the latest blessed model, scored by the same hook on the same
  examples;
- beats the best baseline that reports `metric` by at least `min_lift` (in the metric's
  units; when set and the hook returns baselines). A losing model gets a one-line reason:
  "recall_at_3 0.4100 does not beat the bag-of-words baseline's 0.4500 by 0.01";
- and the candidate's other metrics reach their `floors` ({metric: least value}, when set):
  "eval_trigger_recall 0.8000 is below its floor 0.85".
The ModelBlessing carries the custom properties and BLESSED / NOT_BLESSED file that TFX's
Pusher and the LatestBlessedModelStrategy read, and the reasons in `blessing_message`.

The ModelEvaluation is what TFX's Evaluator writes, so `tfma.load_eval_result(uri)` reads it:
`metrics-00000-of-00001.tfrecord` (a `MetricsForSlice` per slice: the model's metrics, each
baseline's as `baseline/<name>/<metric>` on the overall slice, and `<metric>` diffs against the
latest blessed model), `validations-00000-of-00001.tfrecord` (a `ValidationResult`,
`validation_ok` = blessed, a failure per reason), `eval_config.json` (an `EvalRun`); beside
them `report.md`, the human-readable table.
"""

import importlib
import json
import os
from typing import Any

from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from models.evaluation_hook import REPORT_FILE, HookResult, baseline_metric

METRICS_FILE = "metrics-00000-of-00001.tfrecord"
VALIDATIONS_FILE = "validations-00000-of-00001.tfrecord"
EVAL_CONFIG_FILE = "eval_config.json"
# Lifts are compared after rounding, so that 0.57 - 0.56 counts as the 0.01 it is.
_DIGITS = 9


def _worse(a: float, b: float, lower_is_better: bool) -> bool:
    return a > b if lower_is_better else a < b


def best_baseline(baselines: dict[str, dict[str, float]], metric: str,
                  lower_is_better: bool = False) -> tuple[str, float] | None:
    """(name, value) of the baseline with the best `metric`; None when none reports it."""
    scored = [(name, values[metric]) for name, values in sorted(baselines.items())
              if metric in values]
    if not scored:
        return None
    pick = min if lower_is_better else max
    return pick(scored, key=lambda nv: nv[1])


def verdict(candidate: float, threshold: float | None, latest_blessed: float | None,
            lower_is_better: bool = False, baselines: dict[str, dict[str, float]] | None = None,
            min_lift: float | None = None, metric: str = "metric") -> list[str]:
    """Why a candidate is not blessed (empty: blessed).

    `baselines` ({name: {metric: value}}) with `min_lift`: the candidate must beat the best
    one by at least `min_lift` (equal to it is not enough when `min_lift` > 0)."""
    reasons = []
    if threshold is not None and _worse(candidate, threshold, lower_is_better):
        reasons.append(f"{candidate:.4f} is {'above' if lower_is_better else 'below'} the "
                       f"threshold {threshold:g}")
    if latest_blessed is not None and _worse(candidate, latest_blessed, lower_is_better):
        reasons.append(f"{candidate:.4f} regresses vs the latest blessed model's "
                       f"{latest_blessed:.4f}")
    best = best_baseline(baselines or {}, metric, lower_is_better)
    if min_lift is not None and best is not None:
        name, value = best
        lift = value - candidate if lower_is_better else candidate - value
        if round(lift - min_lift, _DIGITS) < 0:
            reasons.append(f"{metric} {candidate:.4f} does not beat the "
                           f"{name.replace('_', '-')} baseline's {value:.4f} by {min_lift:g}")
    return reasons


def floor_failures(metrics: dict[str, float], floors: dict[str, float] | None
                   ) -> list[tuple[str, str]]:
    """(metric, reason) for each metric of `floors` ({metric: least value}) the candidate's
    `metrics` fall below or do not report."""
    failures = []
    for name, least in sorted((floors or {}).items()):
        if name not in metrics:
            failures.append((name, f"{name} is not reported (its floor is {least:g})"))
        elif round(metrics[name] - least, _DIGITS) < 0:
            failures.append((name, f"{name} {metrics[name]:.4f} is below its floor {least:g}"))
    return failures


def as_hook_result(value: HookResult | dict[str, float]) -> HookResult:
    """A hook's return value as a HookResult with float values."""
    result = value if isinstance(value, HookResult) else HookResult(metrics=dict(value))
    return HookResult(
        metrics={k: float(v) for k, v in result.metrics.items()},
        baselines={name: {k: float(v) for k, v in values.items()}
                   for name, values in result.baselines.items()},
        slices={tuple(key): {k: float(v) for k, v in values.items()}
                for key, values in result.slices.items()})


def evaluate_models(config: dict[str, Any], examples_uri: str, model_uri: str,
                    latest_blessed_uri: str | None) -> dict[str, Any]:
    """The hook's metrics of the candidate, its baselines (and the latest blessed model), and
    the blessing decision."""
    hook = importlib.import_module(config["module"])
    split = config.get("split", "eval")
    metric = config["metric"]
    lower_is_better = config.get("lower_is_better", False)

    def score(uri: str) -> HookResult:
        result = as_hook_result(hook.evaluate(path_utils.serving_model_path(uri), examples_uri,
                                              split, config))
        if metric not in result.metrics:
            raise ValueError(f"{config['module']}.evaluate returned no {metric!r} "
                             f"(got {', '.join(sorted(result.metrics))})")
        return result

    candidate = score(model_uri)
    latest = score(latest_blessed_uri).metrics if latest_blessed_uri else None
    failures = [(metric, reason) for reason in verdict(
        candidate.metrics[metric], config.get("threshold"), latest and latest[metric],
        lower_is_better, candidate.baselines, config.get("min_lift"), metric)]
    failures += floor_failures(candidate.metrics, config.get("floors"))
    best = best_baseline(candidate.baselines, metric, lower_is_better)
    return {"metric": metric, "split": split, "overall": candidate.metrics,
            "baselines": candidate.baselines, "best_baseline": best and best[0],
            "slices": candidate.slices, "latest_blessed": latest,
            "threshold": config.get("threshold"), "min_lift": config.get("min_lift"),
            "floors": config.get("floors") or {}, "lower_is_better": lower_is_better,
            "blessed": not failures, "reasons": [reason for _, reason in failures],
            "failures": failures}


def overall_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The overall slice as written: the model's metrics and each baseline's, prefixed."""
    metrics = dict(result["overall"])
    for name, values in result["baselines"].items():
        metrics.update({baseline_metric(name, k): v for k, v in values.items()})
    return metrics


def render_markdown(result: dict[str, Any]) -> str:
    """The model beside its baselines and the latest blessed model, and the verdict."""
    baselines = sorted(result["baselines"])
    latest = result["latest_blessed"] or {}
    header = ["metric", "model", *(f"{b.replace('_', '-')} baseline" for b in baselines),
              "latest blessed"]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]

    def cell(values: dict[str, float], name: str) -> str:
        return f"{values[name]:.4f}" if name in values else "-"

    for name, value in sorted(result["overall"].items()):
        row = [name, f"{value:.4f}", *(cell(result["baselines"][b], name) for b in baselines),
               cell(latest, name)]
        lines.append("| " + " | ".join(row) + " |")
    verdict_line = ("blessed" if result["blessed"]
                    else "not blessed: " + "; ".join(result["reasons"]))
    rule = []
    if result["baselines"] and result.get("min_lift") is not None:
        rule = [f"rule: beat the best baseline by at least {result['min_lift']:g}"]
    if result.get("floors"):
        rule.append("rule: at least " + ", ".join(
            f"{name} {least:g}" for name, least in sorted(result["floors"].items())))
    return "\n".join(lines + ["", *rule, f"{result['metric']}: {verdict_line}"]) + "\n"


def _metrics_for_slice(slice_key: tuple, metrics: dict[str, float],
                       diffs: dict[str, float] | None = None):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as pb

    record = pb.MetricsForSlice(slice_key=tfma.slicer.serialize_slice_key(slice_key))
    for name, value in sorted(metrics.items()):
        kv = record.metric_keys_and_values.add()
        kv.key.name = name
        kv.value.double_value.value = value
    for name, value in sorted((diffs or {}).items()):
        kv = record.metric_keys_and_values.add()
        kv.key.name, kv.key.is_diff = name, True
        kv.value.double_value.value = value
    return record


def write_tfma(result: dict[str, Any], output_dir: str, data_location: str = "",
               model_location: str = "") -> None:
    """TFMA's files of the evaluation (module docstring), readable by tfma.load_eval_result."""
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2, validation_result_pb2

    overall = overall_metrics(result)
    latest = result["latest_blessed"]
    diffs = ({k: v - latest[k] for k, v in result["overall"].items() if k in latest}
             if latest else None)
    with tf.io.TFRecordWriter(os.path.join(output_dir, METRICS_FILE)) as writer:
        writer.write(_metrics_for_slice((), overall, diffs).SerializeToString())
        for key, metrics in sorted(result["slices"].items(), key=lambda kv: str(kv[0])):
            writer.write(_metrics_for_slice(tuple(key), metrics).SerializeToString())

    validation = validation_result_pb2.ValidationResult(validation_ok=result["blessed"])
    if result["reasons"]:
        per_slice = validation.metric_validations_per_slice.add()
        per_slice.slice_key.CopyFrom(tfma.slicer.serialize_slice_key(()))
        for name, reason in result["failures"]:
            failure = per_slice.failures.add()
            failure.metric_key.name = name
            if name in result["overall"]:
                failure.metric_value.double_value.value = result["overall"][name]
            failure.message = reason
    with tf.io.TFRecordWriter(os.path.join(output_dir, VALIDATIONS_FILE)) as writer:
        writer.write(validation.SerializeToString())

    bound = {"upper_bound" if result["lower_is_better"] else "lower_bound":
             {"value": result["threshold"]}} if result["threshold"] is not None else {}
    direction = (config_pb2.MetricDirection.LOWER_IS_BETTER if result["lower_is_better"]
                 else config_pb2.MetricDirection.HIGHER_IS_BETTER)
    threshold = config_pb2.MetricThreshold(
        value_threshold=config_pb2.GenericValueThreshold(**bound),
        change_threshold=config_pb2.GenericChangeThreshold(
            direction=direction, absolute={"value": 0.0}))
    floors = result["floors"]
    feature_keys = sorted({tuple(column for column, _ in key) for key in result["slices"]})
    eval_config = config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec()],
        slicing_specs=[config_pb2.SlicingSpec(),
                       *(config_pb2.SlicingSpec(feature_keys=list(k)) for k in feature_keys)],
        metrics_specs=[config_pb2.MetricsSpec(metrics=[
            config_pb2.MetricConfig(class_name=name, threshold=threshold)
            if name == result["metric"] else
            config_pb2.MetricConfig(class_name=name, threshold=config_pb2.MetricThreshold(
                value_threshold=config_pb2.GenericValueThreshold(
                    lower_bound={"value": floors[name]})))
            if name in floors else config_pb2.MetricConfig(class_name=name)
            for name in sorted(overall)])])
    run = config_pb2.EvalRun(eval_config=eval_config, version=tfma.version.VERSION,
                             data_location=data_location, file_format="tfrecords_gzip",
                             model_locations={"": model_location})
    with open(os.path.join(output_dir, EVAL_CONFIG_FILE), "w") as f:
        f.write(json_format.MessageToJson(run))


def headline_properties(result: dict[str, Any]) -> dict[str, Any]:
    """What `shipyard runs` shows of an evaluation, as custom properties of the
    ModelEvaluation in ML Metadata: reading them needs no TensorFlow (the TFMA records do).

    `metric` / `metric_value`: the headline metric; `best_baseline` / `best_baseline_value`:
    the best baseline on it; `metrics`: JSON {"overall": {...}, "baselines": {...}}."""
    metric = result["metric"]
    properties: dict[str, Any] = {
        "metric": metric, "metric_value": result["overall"][metric],
        "metrics": json.dumps({"overall": result["overall"], "baselines": result["baselines"]},
                              sort_keys=True)}
    if result["best_baseline"]:
        properties["best_baseline"] = result["best_baseline"]
        properties["best_baseline_value"] = result["baselines"][result["best_baseline"]][metric]
    return properties


def record_headline(result: dict[str, Any], evaluation) -> None:
    for key, value in headline_properties(result).items():
        if isinstance(value, str):
            evaluation.set_string_custom_property(key, value)
        else:
            evaluation.set_float_custom_property(key, value)


@tfx.dsl.components.component
def FamilyEvaluator(
        examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
        model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
        evaluation: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelEvaluation],
        blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelBlessing],
        config: tfx.dsl.components.Parameter[str],
        baseline_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model] = None,
) -> None:
    """Scores the candidate, its baselines (and the latest blessed model) with the family's
    hook; blesses. (`baseline_model` is TFX's name for the latest blessed model.)"""
    settings = json.loads(config)
    result = evaluate_models(settings, examples.uri, model.uri,
                             baseline_model.uri if baseline_model else None)
    os.makedirs(evaluation.uri, exist_ok=True)
    split = settings.get("split", "eval")
    write_tfma(result, evaluation.uri, os.path.join(examples.uri, f"Split-{split}"),
               path_utils.serving_model_path(model.uri))
    with open(os.path.join(evaluation.uri, REPORT_FILE), "w") as f:
        f.write(render_markdown(result))
    # TFX Evaluator's blessing contract (tfx/components/evaluator/constants.py).
    blessing.set_int_custom_property("blessed", int(result["blessed"]))
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    if baseline_model:
        blessing.set_string_custom_property("baseline_model", baseline_model.uri)
        blessing.set_int_custom_property("baseline_model_id", baseline_model.id)
    blessing.set_string_custom_property("blessing_message", "; ".join(result["reasons"]))
    record_headline(result, evaluation)
    os.makedirs(blessing.uri, exist_ok=True)
    with open(os.path.join(blessing.uri, "BLESSED" if result["blessed"] else "NOT_BLESSED"),
              "w"):
        pass
    metric = result["metric"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result["overall"].items()))
    print(f"    {shown}", flush=True)
    for name, values in sorted(result["baselines"].items()):
        if metric in values:
            print(f"    {name.replace('_', '-')} baseline: {metric} {values[metric]:.4f}",
                  flush=True)
    print(f"    {metric}: {'blessed' if result['blessed'] else '; '.join(result['reasons'])}",
          flush=True)

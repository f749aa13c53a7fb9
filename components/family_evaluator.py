"""FamilyEvaluator: the Evaluator of families whose metric TFMA does not compute (corpus BLEU,
recall@3 of reply clusters, rate-distortion), with TFX Evaluator's blessing contract.

The family's evaluation hook, named by dotted path in the JSON `config`, scores an exported
serving SavedModel on a raw split:

    evaluate(serving_model_dir: str, examples_uri: str, split: str, config: dict)
        -> dict[str, float]

    config: {"module": "models.translation.evaluation", "metric": "bleu", "threshold": 20.0,
             "lower_is_better": false, "split": "eval", "limit": 500, ...family keys}

The candidate is blessed when its metric passes the threshold and does not regress against
the latest blessed model, scored by the same hook on the same examples. The ModelBlessing
carries the custom properties and BLESSED / NOT_BLESSED file that TFX's Pusher and the
LatestBlessedModelStrategy read; `metrics.json` in the ModelEvaluation holds every metric.
"""

import importlib
import json
import os
from typing import Any

from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.utils import path_utils

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"


def verdict(candidate: float, threshold: float | None, baseline: float | None,
            lower_is_better: bool = False) -> list[str]:
    """Why a candidate is not blessed (empty: blessed)."""
    reasons = []

    def worse(a: float, b: float) -> bool:
        return a > b if lower_is_better else a < b

    if threshold is not None and worse(candidate, threshold):
        reasons.append(f"{candidate:.4f} is {'above' if lower_is_better else 'below'} the "
                       f"threshold {threshold:g}")
    if baseline is not None and worse(candidate, baseline):
        reasons.append(f"{candidate:.4f} regresses vs the latest blessed model's {baseline:.4f}")
    return reasons


def evaluate_models(config: dict[str, Any], examples_uri: str, model_uri: str,
                    baseline_uri: str | None) -> dict[str, Any]:
    """The hook's metrics of the candidate (and baseline), and the blessing decision."""
    hook = importlib.import_module(config["module"])
    split = config.get("split", "eval")
    metric = config["metric"]

    def score(uri: str) -> dict[str, float]:
        metrics = hook.evaluate(path_utils.serving_model_path(uri), examples_uri, split, config)
        if metric not in metrics:
            raise ValueError(f"{config['module']}.evaluate returned no {metric!r} "
                             f"(got {', '.join(sorted(metrics))})")
        return {k: float(v) for k, v in metrics.items()}

    candidate = score(model_uri)
    baseline = score(baseline_uri) if baseline_uri else None
    reasons = verdict(candidate[metric], config.get("threshold"),
                      baseline and baseline[metric], config.get("lower_is_better", False))
    return {"metric": metric, "split": split, "overall": candidate, "baseline": baseline,
            "threshold": config.get("threshold"), "blessed": not reasons, "reasons": reasons}


def render_markdown(result: dict[str, Any]) -> str:
    baseline = result["baseline"] or {}
    lines = ["| metric | candidate | latest blessed |", "| --- | ---: | ---: |"]
    for name, value in sorted(result["overall"].items()):
        before = f"{baseline[name]:.4f}" if name in baseline else "-"
        lines.append(f"| {name} | {value:.4f} | {before} |")
    verdict_line = ("blessed" if result["blessed"]
                    else "not blessed: " + "; ".join(result["reasons"]))
    return "\n".join(lines + ["", f"{result['metric']}: {verdict_line}"]) + "\n"


def load_metrics(evaluation_uri: str) -> dict[str, dict[str, float]] | None:
    """{'overall': metrics} of a FamilyEvaluator evaluation; None for a TFMA one."""
    path = os.path.join(evaluation_uri, METRICS_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return {"overall": json.load(f)["overall"]}


@tfx.dsl.components.component
def FamilyEvaluator(
        examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
        model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
        evaluation: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelEvaluation],
        blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelBlessing],
        config: tfx.dsl.components.Parameter[str],
        baseline_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model] = None,
) -> None:
    """Scores the candidate (and the latest blessed model) with the family's hook; blesses."""
    settings = json.loads(config)
    result = evaluate_models(settings, examples.uri, model.uri,
                             baseline_model.uri if baseline_model else None)
    os.makedirs(evaluation.uri, exist_ok=True)
    with open(os.path.join(evaluation.uri, METRICS_FILE), "w") as f:
        json.dump(result, f, indent=2)
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
    os.makedirs(blessing.uri, exist_ok=True)
    with open(os.path.join(blessing.uri, "BLESSED" if result["blessed"] else "NOT_BLESSED"),
              "w"):
        pass
    shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(result["overall"].items()))
    print(f"    {shown}: {'blessed' if result['blessed'] else '; '.join(result['reasons'])}",
          flush=True)

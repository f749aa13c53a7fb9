"""The contract between a model family's evaluation hook (`models/<family>/evaluation.py`) and
the shared FamilyEvaluator (components/family_evaluator.py). No TensorFlow import.

    evaluate(serving_model_dir, examples_uri, split, config) -> HookResult | dict[str, float]
"""
from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class HookResult:
    """What a family's evaluation hook (`models/<family>/evaluation.py`'s `evaluate`) returns;
    a plain {metric: value} dict is accepted too (the model's metrics, no baselines, no slices).

    - `metrics`: the model's metrics on the whole split (TFMA's overall slice);
    - `baselines`: {baseline name: its metrics} for the simplest models a practitioner would
      try instead, scored by the hook on the same examples (`frequency`, `bag_of_words`,
      `copy`, `jpeg`, `logistic_regression`). The evaluator blesses only a model whose
      `metric` beats the best baseline that reports it by at least `min_lift`. They are
      written beside the model's metrics as `baseline/<name>/<metric>`;
    - `slices`: {((feature, value), ...): metrics} for per-slice metrics (e.g. per class),
      reported, not gated.
    """

    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    slices: dict[tuple[tuple[str, Any], ...], dict[str, float]] = dataclasses.field(
        default_factory=dict)


BASELINE_PREFIX = "baseline/"
# The evaluator's human-readable table, beside TFMA's records in the ModelEvaluation.
REPORT_FILE = "report.md"


def baseline_metric(baseline: str, metric: str) -> str:
    """The name a baseline's metric carries beside the model's: `baseline/<name>/<metric>`."""
    return f"{BASELINE_PREFIX}{baseline}/{metric}"

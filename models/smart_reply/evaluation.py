"""Evaluation hook of Smart Reply for the shared FamilyEvaluator.

On held-out messages (whose replies the model never saw), with the exported serving
signature and the response set it carries:
- recall_at_3: the true reply's cluster is among the three suggestions shown (over the
  messages whose real reply is short and close to the response set: for the others no
  suggestion could be right);
- mrr: mean reciprocal rank of the true reply's cluster in the model's cluster ranking
  (0 beyond the ranking's depth);
- trigger_precision / trigger_recall of `triggered` against the trigger labels;
- diversity_rate: share of messages whose shown suggestions are all from different clusters.
Kannan et al. report ranking against a frequency baseline; `baselines` adds two (the most
frequent clusters; a bag-of-words logistic regression), fitted on the train split, as the
HookResult's baselines: the model is blessed only when it beats the better one by --min-lift.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from models.evaluation_hook import HookResult
from models.smart_reply import export as export_lib
from models.smart_reply import text
from models.smart_reply.metrics import ranking_metrics
from models.smart_reply.response_set import ResponseSet

METRIC = "recall_at_3"


def load(serving_model_dir: str):
    """(serving signature, response set) of an exported model."""
    loaded = tf.saved_model.load(serving_model_dir)
    response_set = ResponseSet.load(os.path.join(serving_model_dir, "assets",
                                                 "response_set.json"))
    return loaded, response_set


def evaluate_pairs(signature, response_set: ResponseSet,
                   pairs: list[dict[str, str]]) -> dict[str, float]:
    trigger, true_clusters = response_set.labels(text.tokens([p["reply"] for p in pairs]))
    personal = "users" in signature.structured_input_signature[1]
    users = [p.get("user", "") for p in pairs] if personal else None
    out = export_lib.call(signature, [p["context"] for p in pairs], users)
    metrics = ranking_metrics(true_clusters, out["cluster_ids"], out["ranked_cluster_ids"])
    predicted = out["triggered"].astype(bool)
    labels = trigger.astype(bool)
    true_positive = float(np.sum(predicted & labels))
    shown = out["cluster_ids"]
    distinct = [len(set(row[row >= 0].tolist())) == int(np.sum(row >= 0)) for row in shown]
    metrics.update({
        "trigger_precision": true_positive / max(float(predicted.sum()), 1.0),
        "trigger_recall": true_positive / max(float(labels.sum()), 1.0),
        "trigger_rate": float(predicted.mean()),
        "diversity_rate": float(np.mean(distinct)),
        "fallback_rate": float(out["fallback"].mean()),
        "examples": float(len(pairs)),
        "examples_with_true_cluster": float(np.sum(true_clusters >= 0)),
    })
    return metrics


def read_pairs(examples_uri: str, split: str, limit: int | None = None) -> list[dict[str, str]]:
    """The (context, reply[, user]) strings of an Examples split."""
    from models.examples import read_split

    return [{key: values[0].decode("utf-8") for key, values in row.items()
             if key in ("context", "reply", "user") and len(values)}
            for row in read_split(examples_uri, split, limit)]


def evaluate(serving_model_dir: str, examples_uri: str, split: str,
             config: dict[str, Any]) -> HookResult:
    """The FamilyEvaluator hook: metrics of the exported model on ExampleGen's `split`; with
    `baselines`, the frequency and bag-of-words baselines' recall@3 and MRR on the same
    messages (fitted on the train split, against the model's own response set), which the
    model must beat to be blessed."""
    pairs = read_pairs(examples_uri, split, config.get("limit"))
    signature, response_set = load(serving_model_dir)
    metrics = evaluate_pairs(signature.signatures["serving_default"], response_set, pairs)
    if not config.get("baselines"):
        return HookResult(metrics)
    from models.smart_reply import baselines

    return HookResult(metrics, baselines=baselines.scores(read_pairs(examples_uri, "train"),
                                                          pairs, response_set))

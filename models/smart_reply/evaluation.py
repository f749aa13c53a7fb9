"""Evaluation hook of Smart Reply for the shared FamilyEvaluator.

On the independent evaluation file (`eval_messages` in the config: ordinary messages written
by hand, each with the reply intents a person could answer it with, and messages that must
get no suggestion; pipelines/smart_reply/eval_messages.tsv):
- sensible_at_3 (the headline): over ALL its messages that should get suggestions, the
  share that triggered and showed at least one acceptable intent among the three;
- ranking_sensible_at_3: the same share for the three suggestions the model would show,
  triggered or not (its ranking alone);
- eval_trigger_recall / eval_trigger_precision, and silent_rate: the share of the
  must-not-trigger messages left without suggestions.
On held-out corpus messages (whose replies the model never saw), with the exported serving
signature and the response set it carries:
- recall_at_3: the true reply's cluster is among the three suggestions shown (over the
  messages whose real reply is short and close to the response set: for the others no
  suggestion could be right);
- mrr: mean reciprocal rank of the true reply's cluster in the model's cluster ranking
  (0 beyond the ranking's depth);
- trigger_precision / trigger_recall of `triggered` against the trigger labels, and
  held_out_silent_rate: the share of the messages the trigger learns silence on (the
  explicit negatives; without any, those whose reply is not close to the set) left silent:
  the model's operating point;
- diversity_rate: share of messages whose shown suggestions are all from different clusters.
Kannan et al. report ranking against a frequency baseline; `baselines` adds two (the most
frequent intents; a bag-of-words logistic regression), fitted on the train split, as the
HookResult's baselines, scored on both sets; on the eval file each suggests only where a
bag-of-words trigger held to the model's operating point fires (baselines.py): the model is
blessed only when its sensible@3 beats the better one's by --min-lift.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from models.evaluation_hook import HookResult
from models.smart_reply import export as export_lib
from models.smart_reply import intents, labels, text
from models.smart_reply.metrics import ranking_metrics, sensible_share
from models.smart_reply.response_set import ResponseSet
from pipelines.smart_reply.settings import BUNDLED_EVAL, EVAL_MESSAGES

METRIC = "sensible_at_3"
NONE = "none"  # the eval file's intents for a message that must get no suggestion


def read_eval_messages(path: str) -> list[tuple[str, list[str]]]:
    """(message, acceptable intents; [] for must-not-trigger) of an eval file: '#' comment
    lines, a header row `message<TAB>intents`, then one message per line."""
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if not line.startswith("#")]
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        message, _, intents = line.partition("\t")
        if not message.strip() or not intents.strip():
            raise ValueError(f"{path}: data line {number}: expected message<TAB>intents")
        names = [i.strip() for i in intents.split(",")]
        rows.append((message.strip(), [] if names == [NONE] else names))
    return rows


def evaluate_messages(signature, response_set: ResponseSet,
                      messages: list[tuple[str, list[str]]]) -> dict[str, float]:
    """sensible@3 and triggering on the eval file's (message, acceptable intents)."""
    unknown = {i for _, ok in messages for i in ok} - set(response_set.intents)
    if unknown:
        raise ValueError(f"eval messages name intents the model has not: {sorted(unknown)}")
    out = export_lib.call(signature, [m for m, _ in messages])
    triggered = out["triggered"].astype(bool)
    ranked = [[response_set.intents[c] for c in row if c >= 0] for row in out["cluster_ids"]]
    should = np.array([bool(ok) for _, ok in messages])
    positive = [i for i, s in enumerate(should) if s]
    acceptable = [messages[i][1] for i in positive]
    return {
        "sensible_at_3": sensible_share([ranked[i] if triggered[i] else [] for i in positive],
                                        acceptable),
        "ranking_sensible_at_3": sensible_share([ranked[i] for i in positive], acceptable),
        "eval_trigger_recall": float(np.mean(triggered[should])) if should.any() else 0.0,
        "eval_trigger_precision": float(np.sum(triggered & should) / max(triggered.sum(), 1)),
        "silent_rate": float(np.mean(~triggered[~should])) if (~should).any() else 0.0,
        "eval_messages": float(should.sum()),
        "eval_silent_messages": float((~should).sum()),
    }


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
    silent = labels.must_be_silent(pairs, response_set)
    trigger_labels = trigger.astype(bool)
    true_positive = float(np.sum(predicted & trigger_labels))
    shown = out["cluster_ids"]
    distinct = [len(set(row[row >= 0].tolist())) == int(np.sum(row >= 0)) for row in shown]
    metrics.update({
        "trigger_precision": true_positive / max(float(predicted.sum()), 1.0),
        "trigger_recall": true_positive / max(float(trigger_labels.sum()), 1.0),
        # The operating point the baselines' triggers are held to (baselines.py).
        "held_out_silent_rate": float(np.mean(~predicted[silent])) if silent.any() else 0.0,
        "held_out_silent_messages": float(silent.sum()),
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
             if key in ("context", "reply", "user", intents.NEGATIVE) and len(values)}
            for row in read_split(examples_uri, split, limit)]


def evaluate(serving_model_dir: str, examples_uri: str, split: str,
             config: dict[str, Any]) -> HookResult:
    """The FamilyEvaluator hook: metrics of the exported model on ExampleGen's `split` and,
    with `eval_messages` (a path, or "bundled": the file shipped with Shipyard), on that
    eval file; with `baselines`, the frequency and
    bag-of-words baselines on the same messages (fitted on the train split, against the
    model's own response set), which the model must beat to be blessed."""
    pairs = read_pairs(examples_uri, split, config.get("limit"))
    signature, response_set = load(serving_model_dir)
    serving = signature.signatures["serving_default"]
    metrics = evaluate_pairs(serving, response_set, pairs)
    path = EVAL_MESSAGES if config.get("eval_messages") == BUNDLED_EVAL else config.get(
        "eval_messages")
    messages = read_eval_messages(path) if path else None
    if messages:
        metrics.update(evaluate_messages(serving, response_set, messages))
    if not config.get("baselines"):
        return HookResult(metrics)
    from models.smart_reply import baselines

    silence = metrics["held_out_silent_rate"] if metrics["held_out_silent_messages"] else None
    return HookResult(metrics, baselines=baselines.scores(read_pairs(examples_uri, "train"),
                                                          pairs, response_set, messages,
                                                          silence))

"""Choices the Trainer makes after training, on its held-out split (the corpus' eval split,
never the independent eval file): how much the learned paths count beside the fixed
bag-of-words paths, and the trigger threshold.

Stage 1's cluster logits and the trigger's logit are each a learned network's logits plus a
TF-IDF logistic regression's (models/smart_reply/model.py). Trained beside a path that already
fits the train split, the network's part may help or add noise on messages it never saw; its
weight is picked from a short grid on the held-out messages and folded into its output layer
(kernel and bias scaled), so serving and the on-device model carry it with no new op.
The trigger threshold is the highest that keeps a chosen recall on the held-out messages
that should get suggestions: missing an ordinary message costs more than a suggestion shown on
a message that needed none.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from models.keras2 import keras

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
CLUSTER_NET, CLUSTER_VOTES = "cluster_logits", "cluster_word_votes"
TRIGGER_NET, TRIGGER_VOTES = "trigger_logit", "trigger_word_votes"


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cluster_weight(net: np.ndarray, votes: np.ndarray, clusters: np.ndarray,
                   weights: tuple[float, ...] = WEIGHTS) -> float:
    """The weight w of stage 1's `net` logits [N, C] in votes + w · net with the best recall@3
    of the true `clusters` [N] (ties: the higher mean log-probability of the true cluster,
    then the smaller w)."""
    rows = np.arange(len(clusters))

    def key(w: float) -> tuple[float, float]:
        logits = votes + w * net
        top = np.argsort(-logits, axis=1, kind="stable")[:, :3]
        recall = float(np.mean((top == clusters[:, None]).any(axis=1)))
        return round(recall, 6), float(np.mean(_log_softmax(logits)[rows, clusters]))

    return max(weights, key=lambda w: (*key(w), -w))


def trigger_weight(net: np.ndarray, votes: np.ndarray, labels: np.ndarray,
                   weights: tuple[float, ...] = WEIGHTS) -> float:
    """The weight a of the trigger network's logit [N] in votes + a · net with the lowest
    held-out log-loss against `labels` [N] (0 / 1; ties: the smaller a)."""
    def loss(a: float) -> float:
        z = votes + a * net
        return float(np.mean(np.logaddexp(0.0, z) - labels * z))

    return min(weights, key=lambda a: (round(loss(a), 6), a))


def threshold_for_recall(scores: np.ndarray, labels: np.ndarray, recall: float) -> float:
    """The highest threshold t with share(scores[labels == 1] >= t) >= recall."""
    positive = np.sort(scores[labels == 1])
    if not len(positive):
        raise ValueError("no held-out message should trigger: cannot choose a threshold")
    # The largest number of positives that may fall below it (1e-9: 1 - 0.9 is 0.0999…).
    below = int(np.floor((1.0 - recall) * len(positive) + 1e-9))
    return float(positive[min(below, len(positive) - 1)])


def _scale(layer: keras.layers.Layer, weight: float) -> None:
    layer.set_weights([w * weight for w in layer.get_weights()])


def calibrate(model: keras.Model, context_ids: np.ndarray, trigger_labels: np.ndarray,
              clusters: np.ndarray, config: dict[str, Any]) -> dict[str, Any]:
    """Picks and folds in the learned paths' weights on held-out messages (their token ids
    [N, T], trigger labels [N], true clusters [N], -1 where none), and returns `config` with
    the trigger threshold for `config["trigger_recall"]` (0 or missing: the configured
    threshold, also when no held-out message should trigger). A model without bag-of-words
    paths is left as it is; a user's shift of the cluster logits is left out of the choice."""
    names = {layer.name for layer in model.layers}
    chosen = dict(config)
    if CLUSTER_VOTES in names and TRIGGER_VOTES in names:
        probe = keras.Model(model.get_layer("context_ids").output,
                            [model.get_layer(name).output
                             for name in (CLUSTER_NET, CLUSTER_VOTES, TRIGGER_NET,
                                          TRIGGER_VOTES)])
        net, votes, trigger_net, trigger_votes = [
            np.asarray(a) for a in probe.predict(context_ids, batch_size=256, verbose=0)]
        labelled = clusters >= 0
        w = cluster_weight(net[labelled], votes[labelled], clusters[labelled]) \
            if labelled.any() else 1.0
        a = trigger_weight(trigger_net[:, 0], trigger_votes[:, 0], trigger_labels)
        _scale(model.get_layer(CLUSTER_NET), w)
        _scale(model.get_layer(TRIGGER_NET), a)
        chosen.update(cluster_net_weight=w, trigger_net_weight=a)
    if config.get("trigger_recall") and trigger_labels.any():
        score = keras.Model(model.get_layer("context_ids").output,
                            model.get_layer("trigger").output)
        scores = np.asarray(score.predict(context_ids, batch_size=256, verbose=0))[:, 0]
        chosen["trigger_threshold"] = threshold_for_recall(scores, trigger_labels,
                                                           config["trigger_recall"])
    return chosen

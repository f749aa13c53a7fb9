"""The baselines Smart Reply must beat (Kannan et al. 2016, Table 2 reports a frequency
baseline): always the most frequent clusters, and a bag-of-words classifier (TF-IDF of the
message's words → logistic regression over clusters). Both rank clusters; metrics as in
models/smart_reply/evaluation.py.

On the eval file a baseline is scored as a whole suggestion system, as the model is: it
decides when to suggest with the trigger a practitioner would fit first, a TF-IDF logistic
regression on the model's own trigger labels (models/smart_reply/labels.py), at the model's
operating point: its threshold leaves as many of the held-out messages that must get no
suggestion silent as the model left. A baseline that always suggested would be credited for
every message it should have stayed silent on, which sensible@3 does not count; its ranking
alone is reported too (`ranking_sensible_at_3`)."""
from __future__ import annotations

import numpy as np

from models.smart_reply import intents, labels, text
from models.smart_reply.metrics import ranking_metrics, sensible_share
from models.smart_reply.response_set import ResponseSet

TRIGGER_C = 10.0  # as the model's own bag-of-words trigger path


def _joined(messages: list[str]) -> list[str]:
    return [" ".join(t) for t in text.tokens(messages)]


def _labelled(pairs: list[dict[str, str]], response_set: ResponseSet):
    _, clusters = response_set.labels(text.tokens([p["reply"] for p in pairs]))
    return _joined([p["context"] for p in pairs]), clusters


def rankings(train: list[dict[str, str]], messages: list[str], response_set: ResponseSet,
             depth: int = 10) -> dict[str, np.ndarray]:
    """{baseline name: [messages, depth] cluster ranking} for `messages`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts, train_clusters = _labelled(train, response_set)
    keep = train_clusters >= 0
    counts = np.bincount(train_clusters[keep], minlength=response_set.num_clusters)
    frequency = np.argsort(-counts, kind="stable")[:depth]
    vectorizer = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True)
    features = vectorizer.fit_transform(np.array(train_texts)[keep])
    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(features, train_clusters[keep])
    probabilities = classifier.predict_proba(vectorizer.transform(_joined(messages)))
    bow = classifier.classes_[np.argsort(-probabilities, axis=1, kind="stable")[:, :depth]]
    return {"frequency": np.tile(frequency, [len(messages), 1]), "bag_of_words": bow}


class BagOfWordsTrigger:
    """P(suggest | message) from a TF-IDF logistic regression fitted on the train split's
    trigger labels and weights (explicit negatives: both labels weigh the same, as in the
    model's trigger path)."""

    def __init__(self, train: list[dict[str, str]], response_set: ResponseSet) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        trigger, weight, _ = labels.trigger_targets(train, response_set, held_in=True)
        rows = weight > 0
        present = np.unique(trigger[rows])
        self.constant = float(present[0]) if len(present) == 1 else 1.0
        self.vectorizer = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True)
        self.classifier = None
        if len(present) == 2:
            features = self.vectorizer.fit_transform(_joined([p["context"] for p in train]))
            balanced = any(p.get(intents.NEGATIVE) == "1" for p in train)
            self.classifier = LogisticRegression(
                C=TRIGGER_C, max_iter=2000, class_weight="balanced" if balanced else None
            ).fit(features[rows], trigger[rows])

    def scores(self, messages: list[str]) -> np.ndarray:
        if self.classifier is None:  # one label in training: a constant
            return np.full(len(messages), self.constant)
        return self.classifier.predict_proba(self.vectorizer.transform(_joined(messages)))[:, 1]


def matched_threshold(silent_scores: np.ndarray, silence: float) -> float:
    """The lowest threshold (suggest at or above it) that leaves at least `silence` of the
    messages scored `silent_scores` silent: the baseline suggests as often as it can while
    staying as quiet as the model where it must. No such messages or no silence asked: 0
    (always suggest)."""
    if not len(silent_scores) or silence <= 0:
        return 0.0
    ordered = np.sort(silent_scores)
    candidates = np.append(np.unique(ordered), np.nextafter(ordered[-1], np.inf))
    quiet = np.searchsorted(ordered, candidates, side="left")  # scores below each
    needed = int(np.ceil(silence * len(ordered) - 1e-9))
    return float(candidates[np.argmax(quiet >= needed)])


def scores(train: list[dict[str, str]], evaluation: list[dict[str, str]],
           response_set: ResponseSet,
           eval_messages: list[tuple[str, list[str]]] | None = None,
           silence: float | None = None) -> dict[str, dict[str, float]]:
    """{baseline name: {recall_at_3, mrr[, sensible_at_3, ranking_sensible_at_3,
    eval_trigger_recall[, silent_rate]]}} on the evaluation pairs and, with `eval_messages`
    ((message, acceptable intents; [] for must-not) of the independent eval file), on it:
    each baseline suggests where the bag-of-words trigger fires, at the threshold that
    matches the model's `silence` on the evaluation pairs that must get none (None: it
    always suggests)."""
    _, true_clusters = _labelled(evaluation, response_set)
    found = {name: ranking_metrics(true_clusters, ranking[:, :3], ranking)
             for name, ranking in rankings(train, [p["context"] for p in evaluation],
                                           response_set).items()}
    positive = [(m, ok) for m, ok in eval_messages or [] if ok]
    if not positive:
        return found
    acceptable = [ok for _, ok in positive]
    fired, quiet = np.ones(len(positive), bool), None
    if silence is not None:
        trigger = BagOfWordsTrigger(train, response_set)
        silent = labels.must_be_silent(evaluation, response_set)
        quiet_pairs = [p["context"] for p, s in zip(evaluation, silent, strict=True) if s]
        threshold = matched_threshold(trigger.scores(quiet_pairs), silence)
        fired = trigger.scores([m for m, _ in positive]) >= threshold
        negative = [m for m, ok in eval_messages if not ok]
        quiet = float(np.mean(trigger.scores(negative) < threshold)) if negative else 0.0
    for name, ranking in rankings(train, [m for m, _ in positive], response_set,
                                  depth=3).items():
        shown = [[response_set.intents[c] for c in row] for row in ranking]
        gated = [s if f else [] for s, f in zip(shown, fired, strict=True)]
        found[name].update(
            ranking_sensible_at_3=sensible_share(shown, acceptable),
            sensible_at_3=sensible_share(gated, acceptable),
            eval_trigger_recall=float(np.mean(fired)))
        if quiet is not None:
            found[name]["silent_rate"] = quiet
    return found


def evaluate(train: list[dict[str, str]], evaluation: list[dict[str, str]],
             response_set: ResponseSet,
             eval_messages: list[tuple[str, list[str]]] | None = None,
             silence: float | None = None) -> dict[str, float]:
    """The baselines' metrics, keyed `<baseline>_<metric>`."""
    return {f"{name}_{key}": value
            for name, metrics in scores(train, evaluation, response_set, eval_messages,
                                        silence).items()
            for key, value in metrics.items()}

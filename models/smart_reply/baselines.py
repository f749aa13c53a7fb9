"""The baselines Smart Reply must beat (Kannan et al. 2016, Table 2 reports a frequency
baseline): always the most frequent clusters, and a bag-of-words classifier (TF-IDF of the
message's words → logistic regression over clusters). Both rank clusters; metrics as in
models/smart_reply/evaluation.py."""
from __future__ import annotations

import numpy as np

from models.smart_reply import text
from models.smart_reply.metrics import ranking_metrics, sensible_share
from models.smart_reply.response_set import ResponseSet


def _labelled(pairs: list[dict[str, str]], response_set: ResponseSet):
    _, clusters = response_set.labels(text.tokens([p["reply"] for p in pairs]))
    return [" ".join(t) for t in text.tokens([p["context"] for p in pairs])], clusters


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
    eval_texts = [" ".join(t) for t in text.tokens(messages)]
    probabilities = classifier.predict_proba(vectorizer.transform(eval_texts))
    bow = classifier.classes_[np.argsort(-probabilities, axis=1, kind="stable")[:, :depth]]
    return {"frequency": np.tile(frequency, [len(messages), 1]), "bag_of_words": bow}


def scores(train: list[dict[str, str]], evaluation: list[dict[str, str]],
           response_set: ResponseSet,
           eval_messages: list[tuple[str, list[str]]] | None = None
           ) -> dict[str, dict[str, float]]:
    """{baseline name: {recall_at_3, mrr[, sensible_at_3]}}: on the evaluation pairs, and
    with `eval_messages` ((message, acceptable intents) of the independent eval file) the
    share of its messages to suggest for whose top three intents hold an acceptable one
    (a baseline always suggests)."""
    _, true_clusters = _labelled(evaluation, response_set)
    found = {name: ranking_metrics(true_clusters, ranking[:, :3], ranking)
             for name, ranking in rankings(train, [p["context"] for p in evaluation],
                                           response_set).items()}
    positive = [(m, ok) for m, ok in eval_messages or [] if ok]
    if positive:
        ranked = rankings(train, [m for m, _ in positive], response_set, depth=3)
        for name, ranking in ranked.items():
            found[name]["sensible_at_3"] = sensible_share(
                [[response_set.intents[c] for c in row] for row in ranking],
                [ok for _, ok in positive])
    return found


def evaluate(train: list[dict[str, str]], evaluation: list[dict[str, str]],
             response_set: ResponseSet,
             eval_messages: list[tuple[str, list[str]]] | None = None) -> dict[str, float]:
    """The baselines' metrics, keyed `<baseline>_<metric>` (recall_at_3, mrr,
    sensible_at_3)."""
    return {f"{name}_{key}": value
            for name, metrics in scores(train, evaluation, response_set,
                                        eval_messages).items()
            for key, value in metrics.items()}

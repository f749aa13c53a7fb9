"""The baselines Smart Reply must beat (Kannan et al. 2016, Table 2 reports a frequency
baseline): always the most frequent clusters, and a bag-of-words classifier (TF-IDF of the
message's words → logistic regression over clusters). Both rank clusters; metrics as in
models/smart_reply/evaluation.py."""
from __future__ import annotations

import numpy as np

from models.smart_reply import text
from models.smart_reply.metrics import ranking_metrics
from models.smart_reply.response_set import ResponseSet


def _labelled(pairs: list[dict[str, str]], response_set: ResponseSet):
    _, clusters = response_set.labels(text.tokens([p["reply"] for p in pairs]))
    return [" ".join(t) for t in text.tokens([p["context"] for p in pairs])], clusters


def rankings(train: list[dict[str, str]], evaluation: list[dict[str, str]],
             response_set: ResponseSet, depth: int = 10) -> dict[str, np.ndarray]:
    """{baseline name: [messages, depth] cluster ranking} for the evaluation messages."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts, train_clusters = _labelled(train, response_set)
    eval_texts, _ = _labelled(evaluation, response_set)
    keep = train_clusters >= 0
    counts = np.bincount(train_clusters[keep], minlength=response_set.num_clusters)
    frequency = np.argsort(-counts, kind="stable")[:depth]
    vectorizer = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True)
    features = vectorizer.fit_transform(np.array(train_texts)[keep])
    classifier = LogisticRegression(C=10.0, max_iter=2000).fit(features, train_clusters[keep])
    probabilities = classifier.predict_proba(vectorizer.transform(eval_texts))
    bow = classifier.classes_[np.argsort(-probabilities, axis=1, kind="stable")[:, :depth]]
    return {"frequency": np.tile(frequency, [len(evaluation), 1]), "bag_of_words": bow}


def scores(train: list[dict[str, str]], evaluation: list[dict[str, str]],
           response_set: ResponseSet) -> dict[str, dict[str, float]]:
    """{baseline name: {recall_at_3, mrr}} on the evaluation messages."""
    _, true_clusters = _labelled(evaluation, response_set)
    return {name: ranking_metrics(true_clusters, ranking[:, :3], ranking)
            for name, ranking in rankings(train, evaluation, response_set).items()}


def evaluate(train: list[dict[str, str]], evaluation: list[dict[str, str]],
             response_set: ResponseSet) -> dict[str, float]:
    """recall@3 and MRR of each baseline, keyed `<baseline>_recall_at_3`, `<baseline>_mrr`."""
    return {f"{name}_{key}": value
            for name, metrics in scores(train, evaluation, response_set).items()
            for key, value in metrics.items()}

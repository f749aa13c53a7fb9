"""The response set: the replies Smart Reply may suggest, clustered by meaning.

Kannan et al. (KDD 2016, §4): suggestions come from a fixed set of normalised, frequent
replies, grouped into semantic clusters so that the three shown never say the same thing.
Here a reply's meaning is embedded from its own words and character trigrams (how it is
said) and from the messages it answers (what it is used for), the two reduced by an SVD and
clustered with k-means (k-means++ seeding, fixed seed: the same data gives the same set).

Triggering labels come from the data: a message gets suggestions when its real reply was
short and close to the response set (cosine of the reply's word and trigram TF-IDF vector to
its nearest response at least `min_similarity`); the true reply's cluster is that response's.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
from typing import Any

import numpy as np

# Shown when the model is unsure what to say (Inbox shows nothing instead when the
# triggering model says no; these are for a yes from the trigger with a flat distribution).
FALLBACK = ("Ok", "Thanks!", "Sounds good", "Sure", "No problem", "Yes")
FORMAT_VERSION = 1


@dataclasses.dataclass
class ResponseSet:
    texts: list[str]  # what is shown
    tokens: list[list[str]]  # what the model scores (the shared tokenizer's output)
    clusters: list[int]
    counts: list[int]
    num_clusters: int
    idf: dict[str, float]
    max_tokens: int
    min_similarity: float
    fallback: list[str] = dataclasses.field(default_factory=lambda: list(FALLBACK))

    def to_json(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "num_clusters": self.num_clusters,
                "max_tokens": self.max_tokens, "min_similarity": self.min_similarity,
                "fallback": self.fallback,
                "responses": [{"text": t, "tokens": k, "cluster": c, "count": n}
                              for t, k, c, n in zip(self.texts, self.tokens, self.clusters,
                                                    self.counts, strict=True)],
                "idf": self.idf}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResponseSet:
        responses = data["responses"]
        return cls(texts=[r["text"] for r in responses], tokens=[r["tokens"] for r in responses],
                   clusters=[r["cluster"] for r in responses],
                   counts=[r["count"] for r in responses], num_clusters=data["num_clusters"],
                   idf=data["idf"], max_tokens=data["max_tokens"],
                   min_similarity=data["min_similarity"], fallback=data["fallback"])

    def save(self, path: str) -> None:
        """Writes the JSON atomically."""
        import tensorflow as tf

        partial = f"{path}.partial"
        with tf.io.gfile.GFile(partial, "w") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1, sort_keys=True)
        tf.io.gfile.rename(partial, path, overwrite=True)

    @classmethod
    def load(cls, path: str) -> ResponseSet:
        import tensorflow as tf

        with tf.io.gfile.GFile(path) as f:
            return cls.from_json(json.load(f))

    def cluster_members(self, cluster: int) -> list[str]:
        return [t for t, c in zip(self.texts, self.clusters, strict=True) if c == cluster]

    def nearest(self, replies: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """For tokenized replies: the index of the most similar response and the cosine."""
        response_vectors = _tfidf(self.tokens, self.idf)
        reply_vectors = _tfidf(replies, self.idf)
        similarity = reply_vectors @ response_vectors.T
        best = similarity.argmax(axis=1)
        return best, similarity[np.arange(len(replies)), best]

    def labels(self, replies: list[list[str]],
               leave_one_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Trigger labels (1: the real reply was short and close to the set) and the true
        reply's cluster (-1 when it is not close to any response).

        With `leave_one_out` (the training split, which the set was built from), a response
        seen once does not count as close to itself for the trigger label: otherwise every
        short training reply would trigger, while held-out replies trigger only when someone
        else said something like them, and the triggering model would learn "short".
        """
        if not replies:
            return np.zeros([0], np.int64), np.zeros([0], np.int64)
        response_vectors = _tfidf(self.tokens, self.idf)
        similarity = _tfidf(replies, self.idf) @ response_vectors.T
        best = similarity.argmax(axis=1)
        rows = np.arange(len(replies))
        short = np.array([len(r) <= self.max_tokens for r in replies])
        close = short & (similarity[rows, best] >= self.min_similarity)
        clusters = np.where(close, np.asarray(self.clusters)[best], -1)
        if leave_one_out:
            index = {tuple(t): i for i, t in enumerate(self.tokens)}
            for row, reply in enumerate(replies):
                own = index.get(tuple(reply))
                if own is not None and self.counts[own] <= 1:
                    similarity[row, own] = -1.0
            close = short & (similarity.max(axis=1) >= self.min_similarity)
        return close.astype(np.int64), clusters.astype(np.int64)


def _features(tokens: list[str]) -> list[str]:
    """Words and the character trigrams of the whole reply (spelling variants stay close)."""
    text = f" {' '.join(tokens)} "
    return [f"w:{t}" for t in tokens] + [f"c:{text[i:i + 3]}" for i in range(len(text) - 2)]


def _idf(documents: list[list[str]]) -> dict[str, float]:
    frequency = collections.Counter(f for d in documents for f in set(_features(d)))
    return {f: math.log((1 + len(documents)) / (1 + n)) + 1.0
            for f, n in sorted(frequency.items())}


def _tfidf(documents: list[list[str]], idf: dict[str, float]) -> np.ndarray:
    """L2-normalised TF-IDF rows over the features `idf` knows (others are dropped)."""
    index = {f: i for i, f in enumerate(idf)}
    weights = np.array(list(idf.values()), np.float32)
    matrix = np.zeros([len(documents), len(index)], np.float32)
    for row, document in enumerate(documents):
        for feature in _features(document):
            column = index.get(feature)
            if column is not None:
                matrix[row, column] += weights[column]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def _key(tokens: list[str]) -> tuple[str, ...]:
    return tuple(tokens)


def build(contexts: list[list[str]], replies: list[list[str]], reply_texts: list[str],
          num_clusters: int, max_responses: int, max_tokens: int, min_count: int = 1,
          min_similarity: float = 0.5, context_weight: float = 1.0, dimensions: int = 64,
          seed: int = 0) -> ResponseSet:
    """The response set of tokenized training pairs.

    Replies are normalised to their token sequence (case and spacing vanish); those of at most
    `max_tokens` tokens seen at least `min_count` times are candidates, the most frequent
    `max_responses` kept (ties: shorter first, then alphabetical, so the set is
    deterministic). The text shown is the reply's most frequent spelling.
    """
    counts: collections.Counter = collections.Counter()
    spellings: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
    answered: dict[tuple, list[list[str]]] = collections.defaultdict(list)
    for context, reply, text in zip(contexts, replies, reply_texts, strict=True):
        key = _key(reply)
        if not key or len(key) > max_tokens:
            continue
        counts[key] += 1
        spellings[key][" ".join(text.split())] += 1
        answered[key].append(context)
    keys = sorted((k for k, n in counts.items() if n >= min_count),
                  key=lambda k: (-counts[k], len(k), k))[:max_responses]
    if len(keys) < 2:
        raise ValueError(f"only {len(keys)} replies of at most {max_tokens} tokens occur "
                         f"{min_count}+ times: too few for a response set")
    num_clusters = min(num_clusters, len(keys))
    texts = [min(spellings[k].items(), key=lambda item: (-item[1], item[0]))[0] for k in keys]
    token_lists = [list(k) for k in keys]

    idf = _idf(token_lists)
    own = _tfidf(token_lists, idf)
    # What a reply is used for: the centroid of the messages it answers.
    context_idf = _idf([c for k in keys for c in answered[k]])
    use = np.stack([_tfidf(answered[k], context_idf).mean(axis=0) for k in keys])
    use /= np.maximum(np.linalg.norm(use, axis=1, keepdims=True), 1e-12)
    embedding = np.concatenate([own, context_weight * use], axis=1).astype(np.float64)
    embedding -= embedding.mean(axis=0)
    u, s, _ = np.linalg.svd(embedding, full_matrices=False)
    reduced = u[:, :dimensions] * s[:dimensions]
    reduced /= np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)
    clusters = _kmeans(reduced, num_clusters, seed)
    return ResponseSet(texts=texts, tokens=token_lists, clusters=clusters,
                       counts=[counts[k] for k in keys], num_clusters=max(clusters) + 1, idf=idf,
                       max_tokens=max_tokens, min_similarity=min_similarity)


def _kmeans(points: np.ndarray, k: int, seed: int) -> list[int]:
    """Cluster ids renumbered by first appearance, so that cluster 0 holds the most frequent
    response (ids then read in frequency order and do not depend on k-means' own numbering).
    With fewer distinct points than k, some clusters stay empty and the ids are compacted."""
    from sklearn.cluster import KMeans

    raw = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(points)
    order = {c: i for i, c in enumerate(dict.fromkeys(raw.tolist()))}
    return [order[c] for c in raw.tolist()]


def save_path(directory: str) -> str:
    return os.path.join(directory, "response_set.json")
